"""Answers to slash commands: `/papers config`'s refusals, and what `/papers export` says about its usage and
its file (help and the other usage replies are bot/blocks/lookup.py's, from the registry in bot/subcommands.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.blocks.common import context, escape, section

EXPORT_USAGE = [
    ("export", "this channel's papers as JSON"),
    ("export csv", "as CSV; `bibtex` for a .bib file"),
    ("export since:2025-11-01", "only papers posted on or after that day"),
    ("export min-votes:2", "only papers at least two people voted for"),
    ("export all", "every channel of the workspace, not only this one"),
]


def config_error(problem: str, usage: str) -> dict[str, Any]:
    """`/papers config`'s private answer to a setting it could not take: the problem, then the settings."""
    return {"text": f"{escape(problem)} {usage}", "blocks": [section(f":warning: {escape(problem)}"), context(usage)]}


def export_usage(problem: str, command: str = "/papers") -> dict[str, Any]:
    """`/papers export`'s private answer to words it cannot take: the problem, then how to write an export."""
    lines = "\n".join(f"• `{command} {usage}` — {what}" for usage, what in EXPORT_USAGE)
    intro = f"`{command} export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]`, in any order:"
    return {
        "text": f"{escape(problem)} Usage: {intro}",
        "blocks": [section(f":warning: {escape(problem)}"), section(f"{intro}\n{lines}")],
    }


def export_scope(*, channel_id: str | None, since: date | None, min_votes: int) -> str:
    """Which papers an export holds, in words: `export_scope(channel_id="C1", since=None, min_votes=2) ==
    "posted in <#C1> with at least 2 votes"`."""
    # `all` never reaches into other private channels (docs/privacy.md); the words say so.
    where = f"posted in <#{channel_id}>" if channel_id else "posted in this workspace's public channels or here"
    when = f" since {since.isoformat()}" if since else ""
    votes = f" with at least {min_votes} vote{'' if min_votes == 1 else 's'}" if min_votes else ""
    return where + when + votes


def export_comment(*, user_id: str, scope: str) -> str:
    """The message that comes with the uploaded export file."""
    return f"<@{user_id}> exported the papers {scope}."


def export_summary(
    *, count: int, fmt: str, filename: str, where: str, scope: str, error: str | None = None
) -> dict[str, Any]:
    """`/papers export`'s one-line private answer: what was exported and where the file went."""
    papers = f"{count} paper{'' if count == 1 else 's'} {scope} as {fmt.upper() if fmt != 'bibtex' else 'BibTeX'}"
    name, problem = f"`{escape(filename)}`", escape(error or "")
    text = {
        "empty": f"Nothing to export: no paper was {scope}.",
        "channel": f"Exported {papers}: {name} is in this channel.",
        "dm": f"Exported {papers}. I couldn't post the file here ({problem}), so I sent {name} to you in a DM.",
        "nowhere": (
            f"Exported {papers}, but Slack refused the file ({problem}). Invite me here with "
            "`/invite @paperbot`, or run `paperbot export` where the bot runs."
        ),
    }[where]
    return {"text": text, "blocks": [section(text)]}


def config_announcement(*, user_id: str, changes: dict[str, Any], digest_time: str, timezone: str) -> str:
    """What the channel is told when someone changes its digest settings (a change is never silent):
    `config_announcement(user_id="U1", changes={"digest_enabled": False}, digest_time="09:00", timezone="UTC")
    == "<@U1> turned the daily digest off in this channel."`."""
    who = f"<@{user_id}>"
    if "digest_enabled" in changes:
        if not changes["digest_enabled"]:
            return f"{who} turned the daily digest off in this channel."
        return f"{who} turned the daily digest on in this channel: at {digest_time} ({escape(timezone)})."
    if "digest_time" in changes or "timezone" in changes:
        return f"{who} moved this channel's daily digest to {digest_time} ({escape(timezone)})."
    if "filters" in changes:
        wanted = "; ".join(f"{k}: {', '.join(v)}" for k, v in changes["filters"].items() if v) or "none"
        return f"{who} changed this channel's digest filters to {escape(wanted)}."
    words = {
        "digest_size": lambda v: f"set this channel's digest to {v} papers",
        "min_upvotes": lambda v: f"set the digest's minimum HF upvotes to {v if v is not None else 'none'}",
        "include_weekends": lambda v: f"turned weekend digests {'on' if v else 'off'} in this channel",
        "post_empty_notice": lambda v: f"turned the digest's no-papers notice {'on' if v else 'off'} in this channel",
    }
    said = [words[name](value) for name, value in changes.items() if name in words]
    return f"{who} {' and '.join(said) or 'changed the digest settings of this channel'}."
