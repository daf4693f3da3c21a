"""Block Kit builders: pure functions from data to message payloads, unit-tested without Slack.

Every user- or paper-supplied string goes through `escape` (mrkdwn needs &, <, > escaped) and `clip`
(section text is capped at 3,000 characters by Slack).
"""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]

SECTION_LIMIT = 3000
FALLBACK_LIMIT = 4000

USAGE = [
    ("help", "this message"),
    ("search <text>", "find papers by title, author or topic, typos forgiven"),
    ("show <arXiv id or URL>", "one paper with the team's votes and discussion"),
    ("top [today|week|month|all]", "what the team voted up"),
    ("filter <field:value …>", "papers by author:, category:, keyword:, since:, min-votes:"),
    ("subscribe <keywords>", "get a DM when a matching paper arrives; `unsubscribe` stops it"),
    ("digest [now]", "this channel's digest settings, or post today's digest now"),
    ("config …", "this channel's digest time, time zone, size and filters"),
    ("export …", "what the team has read, voted and discussed (JSON, CSV, BibTeX)"),
]


def escape(text: str) -> str:
    """Escape mrkdwn control characters: `escape("a<b>&c") == "a&lt;b&gt;&amp;c"`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, with an ellipsis:
    `clip("alpha beta gamma", 12) == "alpha beta…"`."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def context(*elements: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": e[:SECTION_LIMIT]} for e in elements[:10]]}


def help_message(command: str = "/papers") -> dict[str, Any]:
    """The reply to `/papers help`: every subcommand with one line of explanation."""
    lines = "\n".join(f"• `{command} {usage}` — {what}" for usage, what in USAGE)
    return {
        "text": f"paperbot: {command} help",
        "blocks": [
            section(f"*paperbot* keeps your team's reading room: the daily papers, your votes and your threads.\n{lines}"),
            context("Vote with :+1: :fire: :heart: on a paper's message; discuss in its thread. The bot remembers."),
        ],
    }


def usage_error(problem: str, command: str = "/papers") -> dict[str, Any]:
    """A short ephemeral reply naming what was wrong, followed by the usage."""
    usage = help_message(command)
    return {"text": f"{problem} Try `{command} help`.", "blocks": [section(f":warning: {escape(problem)}"), *usage["blocks"]]}
