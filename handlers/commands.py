"""The `/papers` slash command: parse the subcommand, and each subcommand acks first, then hands its work (one
function of bot logic, a reply built by a builder) to bot.lanes.after_ack, so the ack never waits on the
database. The dispatcher only reads the text; the ack belongs to the subcommand because its content (usage, an
answer or "working on it") depends on which one it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import answers, blocks, channel_config, export
from bot.blocks import lookup as lookup_blocks
from bot.command_text import ParseError, parse
from bot.deps import deps_of, make_client
from bot.digest import DigestContext, digest_now
from bot.lanes import after_ack
from bot.subcommands import SUBCOMMANDS as SUBCOMMAND_HELP
from bot.subcommands import help_text, usage_of
from handlers import lookups, subscriptions

Subcommand = Callable[..., None]


def papers_digest(
    ack: Ack, command: dict[str, Any], args: str, respond: Respond, context: BoltContext, client: Any, **_: Any
) -> None:
    """`/papers digest` shows this channel's digest settings and last run; `/papers digest now` posts it."""
    if args.lower() not in ("", "now"):
        usage = usage_of(SUBCOMMAND_HELP["digest"], command.get("command", "/papers"))
        ack(
            response_type="ephemeral", **lookup_blocks.problem(f"`digest` takes `now` or nothing, not `{args}`.", usage)
        )
        return
    if args:
        ack(response_type="ephemeral", text="Posting this channel's digest now…")
    else:
        ack()
    deps, team, channel = deps_of(context), command["team_id"], command["channel_id"]

    def work() -> None:
        if args:
            # The digest's own client never re-sends a message blindly (bot.digest.posting says why).
            digest_ctx = DigestContext(deps=deps, client=make_client(deps.settings, client.token, idempotent_only=True))
            reply = digest_now(digest_ctx, team_id=team, channel_id=channel)
        else:
            reply = channel_config.describe_channel(deps, team_id=team, channel_id=channel)
        respond(response_type="ephemeral", replace_original=False, text=reply)

    after_ack(deps, respond, work, what="/papers digest")


def papers_config(
    ack: Ack, command: dict[str, Any], args: str, respond: Respond, context: BoltContext, client: Any, **_: Any
) -> None:
    """`/papers config` shows this channel's digest settings; `/papers config <setting> <value>` changes one (a
    member of the channel or an admin only; the change is announced in the channel)."""
    ack()
    deps = deps_of(context)

    def work() -> None:
        reply = channel_config.configure(
            deps,
            client,
            team_id=command["team_id"],
            channel_id=command["channel_id"],
            user_id=command["user_id"],
            args=args,
        )
        if reply.usage:
            respond(response_type="ephemeral", **blocks.config_error(reply.text, channel_config.USAGE))
        else:
            respond(response_type="ephemeral", text=reply.text)

    after_ack(deps, respond, work, what="/papers config")


def papers_export(
    ack: Ack, command: dict[str, Any], args: str, respond: Respond, context: BoltContext, client: Any, **_: Any
) -> None:
    """`/papers export [json|csv|bibtex] [since:D] [min-votes:N] [all]`: upload a file of the papers posted in
    this channel (`all`: in the workspace) with the team's activity, then say privately what was exported."""
    try:
        request = export.parse_command(args)
    except export.ExportUsage as exc:
        ack(response_type="ephemeral", **blocks.export_usage(str(exc), command.get("command", "/papers")))
        return
    ack()
    deps, channel, user = deps_of(context), command["channel_id"], command["user_id"]
    scope = blocks.export_scope(
        channel_id=None if request.all_channels else channel, since=request.since, min_votes=request.min_votes
    )

    def work() -> None:
        done = export.export_to_slack(
            deps,
            client,
            team_id=command["team_id"],
            channel_id=channel,
            user_id=user,
            request=request,
            comment=blocks.export_comment(user_id=user, scope=scope),
        )
        summary = blocks.export_summary(
            count=done.count, fmt=done.fmt, filename=done.filename, where=done.where, scope=scope, error=done.error
        )
        respond(response_type="ephemeral", replace_original=False, **summary)

    after_ack(deps, respond, work, what="/papers export")


SUBCOMMANDS: dict[str, Subcommand] = {
    "digest": papers_digest,
    "config": papers_config,
    "export": papers_export,
    "subscribe": subscriptions.papers_subscribe,
    "unsubscribe": subscriptions.papers_unsubscribe,
    "subscriptions": subscriptions.papers_subscriptions,
    **dict.fromkeys(answers.LOOKUPS, lookups.papers_lookup),
}


def papers(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext, client: Any, logger: Any) -> None:
    """Dispatch `/papers <subcommand> ...` to its function; help and anything unparseable are answered in the ack
    (no database needed), naming what was wrong and showing the usage."""
    name = command.get("command") or "/papers"
    parsed = parse(command.get("text") or "", command=name)
    if isinstance(parsed, ParseError):
        ack(response_type="ephemeral", **lookup_blocks.problem(parsed.problem, parsed.usage))
        return
    if parsed.name == "help":
        ack(response_type="ephemeral", **lookup_blocks.help_reply(help_text(parsed.topic, name)))
        return
    handler = SUBCOMMANDS[parsed.name]
    handler(
        ack=ack,
        command={**command, "command": name},
        invocation=parsed,
        args=parsed.raw_rest.strip(),
        respond=respond,
        context=context,
        client=client,
        logger=logger,
    )


def register(app: App) -> None:
    """Attach the `/papers` command."""
    app.command("/papers")(papers)
