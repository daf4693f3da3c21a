"""`paperbot digest`: post (or preview) the day's papers from the command line, exactly once per channel and date;
the first Ctrl-C stops between two messages. `paperbot recap`: a channel's weekly recap, the same way."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import click

from bot.cli.common import Failure, friendly, interrupted, open_database, settings_from
from bot.cli.params import DATE, WEEK
from storage.db import make_sessions

if TYPE_CHECKING:  # imported where used: `paperbot --help` should not load Slack's SDK
    from bot.digest import DigestContext, Outcome


@click.command()
@click.option("--channel", help="Channel id (default: every digest channel and PAPERBOT_DIGEST_CHANNEL).")
@click.option("--date", "day", type=DATE, help="The HF daily list to post.")
@click.option("--size", type=click.IntRange(1, 40), help="Papers per digest (overrides the channel's).")
@click.option(
    "--source",
    type=click.Choice(["hf", "sample"]),
    default="hf",
    show_default=True,
    help="Where papers come from: Hugging Face, or the bundled sample.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be posted; needs no Slack credentials.")
@click.option("--json", "as_json", is_flag=True, help="Print the Block Kit payloads as JSON.")
@click.pass_context
@friendly
def digest(
    ctx: click.Context,
    channel: str | None,
    day: date | None,
    size: int | None,
    source: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Post the day's trending papers, one message per paper, exactly once per channel and date."""
    from bot.deps import Deps, make_client
    from bot.digest import DigestContext
    from bot.preview import show_outcomes

    settings = settings_from(ctx)
    # The digest's client never re-sends a message blindly (bot.digest explains why).
    client = None if dry_run else make_client(settings, settings.secret("SLACK_BOT_TOKEN"), idempotent_only=True)
    engine = open_database(settings)
    # Its own stop event: Ctrl-C stops this command's channels, not a process-wide flag.
    digest_ctx = DigestContext(
        deps=Deps(settings, engine, make_sessions(engine)), client=client, stop=threading.Event()
    )
    with first_ctrl_c_stops(digest_ctx.stop):
        outcomes = _digest_outcomes(digest_ctx, channel=channel, day=day, size=size, source=source, dry_run=dry_run)
    problem = show_outcomes(outcomes, as_json=as_json)
    if digest_ctx.stop.is_set():  # stopped by Ctrl-C between two messages; the outcome says how far it got
        interrupted()
    if problem:
        raise Failure(problem)


def _digest_outcomes(
    ctx: DigestContext, *, channel: str | None, day: date | None, size: int | None, source: str, dry_run: bool
) -> list[Outcome]:
    """`paperbot digest`: a preview per channel (dry run, no Slack needed) or the real, exactly-once post.
    Fails with one sentence when it cannot start."""
    from slack_sdk.errors import SlackClientError

    from bot.digest import PREVIEW_CHANNEL, cli_targets, preview_digest, run_channels, slack_problem
    from storage import channels as channel_store

    if dry_run:
        with ctx.sessions.begin() as session:  # no Slack credentials: the workspace we know stands in
            team = channel_store.local_team(session=session)
        targets = cli_targets(ctx, team_id=team, channel=channel) or [(team, PREVIEW_CHANNEL)]
        return [preview_digest(ctx, team_id=t, channel_id=c, day=day, size=size, source=source) for t, c in targets]
    assert ctx.client is not None
    try:
        team = str(ctx.client.auth_test()["team_id"])
        targets = cli_targets(ctx, team_id=team, channel=channel)
        if not targets:
            raise Failure("no channel to post to: pass --channel C0123456789 or set PAPERBOT_DIGEST_CHANNEL")
        return run_channels(ctx, targets, day=day, size=size, source=source, retry_failed=True, give_up=False)
    except (SlackClientError, OSError) as exc:
        raise Failure(slack_problem(ctx.settings, exc)) from None


@click.command()
@click.option("--channel", help="Channel id (default: every channel with a weekly recap).")
@click.option("--week", type=WEEK, help="The ISO week, e.g. 2026-W48 (default: this week, or last week on a Monday).")
@click.option("--dry-run", is_flag=True, help="Show what would be posted; needs no Slack credentials.")
@click.option("--json", "as_json", is_flag=True, help="Print the Block Kit payloads as JSON.")
@click.pass_context
@friendly
def recap(ctx: click.Context, channel: str | None, week: date | None, dry_run: bool, as_json: bool) -> None:
    """Post a channel's weekly recap (its most voted and most discussed papers), exactly once per week."""
    from slack_sdk.errors import SlackClientError

    from bot.deps import Deps, make_client
    from bot.digest import DigestContext, slack_problem
    from bot.preview import show_outcomes
    from bot.recap import preview_recap, run_recap
    from storage import channels as channel_store

    settings = settings_from(ctx)
    client = None if dry_run else make_client(settings, settings.secret("SLACK_BOT_TOKEN"), idempotent_only=True)
    engine = open_database(settings)
    recap_ctx = DigestContext(deps=Deps(settings, engine, make_sessions(engine)), client=client, stop=threading.Event())
    try:
        team = str(client.auth_test()["team_id"]) if client is not None else None
        with recap_ctx.sessions.begin() as session:
            team = team or channel_store.local_team(session=session)
            targets = [channel] if channel else [c.channel_id for c in channel_store.recap_channels(session=session)]
        if not targets:
            raise Failure("no channel has a weekly recap: pass --channel C0123456789, or set one with /papers config")
        run = preview_recap if dry_run else run_recap
        outcomes = [run(recap_ctx, team_id=team, channel_id=c, monday=week) for c in targets]
    except (SlackClientError, OSError) as exc:
        raise Failure(slack_problem(settings, exc)) from None
    problem = show_outcomes(outcomes, as_json=as_json)
    if problem:
        raise Failure(problem)


@contextmanager
def first_ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While posting, the first Ctrl-C asks the digests to stop between two messages (and release their claims)
    instead of interrupting whatever line happens to run; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():  # signals can only be handled there
        yield
        return

    def on_sigint(_signum: int, _frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
