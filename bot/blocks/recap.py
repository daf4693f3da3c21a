"""The weekly recap's messages: the week's most voted and most discussed papers of one channel, and the recap
line of `/papers config`. Pure: data in, payloads out (bot/recap.py gathers the data and posts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.blocks.common import compact, context, escape, link, section
from bot.links import hf_url

RECAP_EVENT = "paperbot_recap"  # the metadata event type that marks a recap's messages in a channel
TOP = 3  # papers per list in the recap's own message; the rest go to its thread
DETAILS_LIMIT = 30  # papers in the thread's full ranking
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class RecapPaper:
    """One paper of a recap: what people did with it in the channel that week, and its HF upvotes now."""

    arxiv_id: str
    title: str
    votes: int
    replies: int
    hf_upvotes: int | None = None
    permalink: str | None = None  # its most active thread that week, when Slack gave a link


def week_name(monday: date) -> str:
    """The ISO week of a Monday and its days: `week_name(date(2026, 11, 23)) == "2026-W48 (23–29 Nov)"`."""
    year, week, _ = monday.isocalendar()
    sunday = monday + timedelta(days=6)
    first = f"{monday.day} {monday:%b}" if monday.month != sunday.month else str(monday.day)
    return f"{year}-W{week:02d} ({first}–{sunday.day} {sunday:%b})"


def most_voted(papers: Sequence[RecapPaper]) -> list[RecapPaper]:
    """Papers with votes, most voted first (then most replies, then by id, so the order never wobbles)."""
    return sorted((p for p in papers if p.votes), key=lambda p: (-p.votes, -p.replies, p.arxiv_id))


def most_discussed(papers: Sequence[RecapPaper]) -> list[RecapPaper]:
    """Papers with replies, most replies first (then most votes, then by id)."""
    return sorted((p for p in papers if p.replies), key=lambda p: (-p.replies, -p.votes, p.arxiv_id))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _replies(n: int) -> str:
    return f"{n} repl{'y' if n == 1 else 'ies'}"


def _title(paper: RecapPaper) -> str:
    # A `*` inside the bold title would end the bold early (as in bot.blocks.paper.title_link).
    title = " ".join(paper.title.split()).replace("*", "∗") or paper.arxiv_id
    return link(hf_url(paper.arxiv_id), title)


def paper_line(paper: RecapPaper, rank: int) -> str:
    """`1. <title> · 5 votes · 7 replies · ▲ 120 on HF · thread` (title and thread linked)."""
    parts = [f"{rank}. *{_title(paper)}*", _plural(paper.votes, "vote"), _replies(paper.replies)]
    if paper.hf_upvotes is not None:
        parts.append(f"▲ {compact(paper.hf_upvotes)} on HF")
    if paper.permalink:
        parts.append(link(paper.permalink, "thread"))
    return " · ".join(parts)


def _ranking(title: str, papers: Sequence[RecapPaper]) -> str:
    return "\n".join([f"*{title}*", *(paper_line(p, i) for i, p in enumerate(papers, 1))])


def needs_details(papers: Sequence[RecapPaper]) -> bool:
    """True when the recap's message leaves papers out: they go to a reply in its thread."""
    shown = {p.arxiv_id for p in most_voted(papers)[:TOP] + most_discussed(papers)[:TOP]}
    return len(shown) < len(papers)


def recap_message(*, channel_id: str, monday: date, papers: Sequence[RecapPaper]) -> dict[str, Any]:
    """The recap's message: the week's totals, then the top few most voted and most discussed papers."""
    votes, replies = sum(p.votes for p in papers), sum(p.replies for p in papers)
    week = week_name(monday)
    summary = (
        f"{_plural(len(papers), 'paper')} posted in <#{channel_id}> got {_plural(votes, 'vote')} and "
        f"{_replies(replies)} this week."
    )
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Weekly recap · {week}"}},
        section(summary),
    ]
    voted, discussed = most_voted(papers)[:TOP], most_discussed(papers)[:TOP]
    if voted:
        blocks.append(section(_ranking("Most voted", voted)))
    if discussed:
        blocks.append(section(_ranking("Most discussed", discussed)))
    more = len(papers) - len({p.arxiv_id for p in voted + discussed})
    note = f"{_plural(more, 'more paper')} in the thread. " if more > 0 else ""
    blocks.append(context(f"{note}Votes and replies are this week's, in this channel only; HF upvotes as of now."))
    return {"text": f"Weekly recap of {week}: {summary}", "blocks": blocks}


def recap_details(*, monday: date, papers: Sequence[RecapPaper]) -> dict[str, Any]:
    """The thread reply with the week's whole ranking: every paper with activity, by votes then replies."""
    ranked = sorted(papers, key=lambda p: (-(p.votes + p.replies), -p.votes, p.arxiv_id))[:DETAILS_LIMIT]
    lines = [paper_line(p, i) for i, p in enumerate(ranked, 1)]
    blocks = [section(f"*Every paper with votes or replies in {week_name(monday)}*")]
    # A section holds 3,000 characters: ten lines each stay well within it.
    blocks += [section("\n".join(lines[i : i + 10])) for i in range(0, len(lines), 10)]
    if len(papers) > len(ranked):
        blocks.append(context(f"and {_plural(len(papers) - len(ranked), 'more paper')}."))
    return {"text": f"The whole ranking of {week_name(monday)}", "blocks": blocks}


def recap_post(
    channel: str, payload: dict[str, Any], *, run_id: int | None, part: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """chat.postMessage's arguments for a recap message (`part` "main" or "details"): what a real run sends and
    `--dry-run --json` prints. The metadata names the run, so a resumed run finds what a crashed one posted."""
    args: dict[str, Any] = {
        "channel": channel,
        "text": payload["text"],
        "blocks": payload["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": RECAP_EVENT, "event_payload": {"run": run_id, "part": part}},
    }
    if thread_ts:
        args["thread_ts"] = thread_ts
    return args


def recap_setting(*, day: int | None, at: str | None, timezone: str) -> str:
    """`/papers config`'s recap line: `recap_setting(day=4, at="17:00", timezone="UTC") ==
    "*Weekly recap*: Fridays at 17:00 (UTC)"`."""
    if day is None or at is None:
        return "*Weekly recap*: off (`/papers config recap friday 17:00` turns it on)"
    return f"*Weekly recap*: {DAYS[day]}s at {at} ({escape(timezone)})"


def recap_announcement(*, user_id: str, day: int | None, at: str | None, timezone: str) -> str:
    """What the channel is told when someone turns its recap on, moves it or turns it off."""
    if day is None or at is None:
        return f"<@{user_id}> turned the weekly recap off in this channel."
    return f"<@{user_id}> set this channel's weekly recap to {DAYS[day]}s at {at} ({escape(timezone)})."
