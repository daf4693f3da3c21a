"""Block Kit for lookup answers: search results, a paper card with the team's context, top lists, help and usage.

Pure builders (STYLE rule 3): they take papers and the team's activity, return message payloads, escape what
people wrote, and stay within Slack's limits (50 blocks a message, 3,000 characters a section).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.blocks.common import MAX_BLOCKS, Block, compact, context, escape, fit, link, safe_url, section
from bot.blocks.paper import author_line, github_url, with_picture
from bot.links import abs_url, hf_url, pdf_url
from storage.digests import aware
from storage.lookups import TeamActivity, Thread

SHOW_ACTION = "lookup_show"
SHARE_ACTION = "lookup_share"
MORE_ACTION = "lookup_more"
MAX_EMOJI = 8
VALUE_LIMIT = 2000  # characters of a button's value


class CardPaper(Protocol):
    """What a card reads of a paper."""

    arxiv_id: str
    title: str
    authors: list[str]
    abstract: str | None
    ai_summary: str | None
    published: Any
    daily_date: Any
    hf_upvotes: int | None
    github_repo: str | None
    project_page: str | None
    thumbnail: str | None


class FoundLike(Protocol):
    """One paper of an answer (bot.lookups.Found)."""

    paper: Any
    activity: TeamActivity
    permalinks: dict[tuple[str, str], str]


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _title(paper: CardPaper) -> str:
    title = " ".join((paper.title or "").split()).replace("*", "∗") or paper.arxiv_id
    return f"*{link(hf_url(paper.arxiv_id), title)}*"


def _year(paper: CardPaper) -> str:
    day = paper.published or paper.daily_date
    return str(day.year) if day is not None else ""


def _facts(paper: CardPaper, activity: TeamActivity) -> str:
    parts = [p for p in (_year(paper), author_line(paper.authors)) if p]
    if paper.hf_upvotes is not None:
        parts.append(f"▲ {compact(paper.hf_upvotes)} HF")
    parts.append(f"team: {_plural(activity.votes, 'vote')}, {_plural(activity.replies, 'reply', 'replies')}")
    return " · ".join(parts)


def _where(activity: TeamActivity, permalinks: dict[tuple[str, str], str], limit: int = 3) -> str:
    """Where the paper was discussed: a link to each of its newest threads, with the channel and day."""
    shown = []
    for thread in activity.threads[:limit]:
        label = f"{thread.kind} {thread.posted_at:%d %b %Y}"
        url = permalinks.get((thread.channel_id, thread.ts))
        replies = f", {_plural(thread.replies, 'reply', 'replies')}" if thread.replies else ""
        shown.append(f"<#{thread.channel_id}> {link(url, label) if url else label}{replies}")
    more = len(activity.threads) - len(shown)
    return "discussed in " + "; ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else ""


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id}
    button["value"] = value[:VALUE_LIMIT]
    if style:
        button["style"] = style
    return button


def result_blocks(found: FoundLike, *, rank: int | None = None, buttons: bool = True) -> list[Block]:
    """One result: linked title, year, first authors, HF upvotes, the team's votes and replies, where it was
    discussed, and the Show / Share to channel buttons."""
    paper = found.paper
    prefix = f"{rank}. " if rank is not None else ""
    out: list[Block] = [section(f"{prefix}{_title(paper)}\n{fit(_facts(paper, found.activity), 1500)}")]
    where = _where(found.activity, found.permalinks)
    if where:
        out.append(context(where[:2900]))  # built of escaped parts
    if buttons:
        out.append(
            {
                "type": "actions",
                "elements": [
                    _button("Show", SHOW_ACTION, paper.arxiv_id),
                    _button("Share to channel", SHARE_ACTION, paper.arxiv_id),
                ],
            }
        )
    return out


def results(
    found: Sequence[FoundLike], *, heading: str, more: str | None = None, note: str | None = None, first_rank: int = 1
) -> dict[str, Any]:
    """A list answer (search, top, filter): a heading, one result each, and a More button when `more` (the
    button's value) is given."""
    out: list[Block] = [context(fit(heading, 2900))]
    room = MAX_BLOCKS - 1 - (1 if note else 0) - (1 if more else 0) - 1  # heading, note, More, a cut notice
    shown = 0
    for rank, item in enumerate(found, first_rank):
        blocks = result_blocks(item, rank=rank)
        if len(out) - 1 + len(blocks) > room:
            break
        out += blocks
        shown += 1
    if shown < len(found):  # Slack takes 50 blocks a message: say what was left out instead of failing
        out.append(context(f"…and {len(found) - shown} more: ask for fewer (e.g. `top 10`) to see them all."))
    if note:
        out.append(context(fit(note, 2900)))
    if more:
        out.append({"type": "actions", "elements": [_button("More", MORE_ACTION, more)]})
    text = f"{len(found)} paper{'s' if len(found) != 1 else ''}: " + "; ".join(
        " ".join((f.paper.title or f.paper.arxiv_id).split())[:80] for f in found[:5]
    )
    return {"text": fit(text, 3000), "blocks": out}


def nothing_found(what: str, suggestions: Sequence[str]) -> dict[str, Any]:
    """No paper matched: say so, and name the nearest titles when there are some."""
    lines = [f"No paper matches {fit(what, 300)}."]
    if suggestions:
        lines.append("Nearest titles: " + "; ".join(f"_{fit(t, 200)}_" for t in suggestions[:3]))
    else:
        lines.append("Try fewer or other words, or `/papers help search`.")
    return {"text": lines[0], "blocks": [section("\n".join(lines))]}


def paper_card(found: FoundLike, *, share_button: bool = True, shared_by: str | None = None) -> dict[str, Any]:
    """`show`: the paper (with its picture, when it has one) and the team's context: votes (people) and reactions
    by emoji, replies, each thread where it was discussed (when, where, a permalink), and its links (abstract,
    PDF, code, project page)."""
    paper, activity = found.paper, found.activity
    head = _title(paper) + (f"\n{fit((', '.join(paper.authors or [])), 1500)}" if paper.authors else "")
    out: list[Block] = [with_picture(section(head), paper)]
    summary = (paper.ai_summary or "").strip() or (paper.abstract or "").strip()
    if summary:
        out.append(section(fit((" ".join(summary.split())), 1200)))
    out.append(context(_links(paper)))
    out.append(section(_team(activity, found.permalinks)[:2900]))  # built of escaped parts
    if shared_by:
        out.append(context(f"shared by <@{shared_by}> with `/papers show`"))
    if share_button:
        out.append(
            {
                "type": "actions",
                "elements": [_button("Share to channel", SHARE_ACTION, paper.arxiv_id, "primary")],
            }
        )
    return {"text": fit(f"{paper.title or paper.arxiv_id} (arXiv {paper.arxiv_id})", 500), "blocks": out}


def _links(paper: CardPaper) -> str:
    parts = [
        link(abs_url(paper.arxiv_id), f"arXiv {paper.arxiv_id}", 80),
        link(pdf_url(paper.arxiv_id), "PDF"),
        link(hf_url(paper.arxiv_id), "Hugging Face"),
    ]
    if safe_url(github_url(paper.github_repo)):
        parts.append(link(github_url(paper.github_repo), "Code"))
    if safe_url(paper.project_page):
        parts.append(link(paper.project_page, "Project page"))
    if paper.hf_upvotes is not None:
        parts.append(f"▲ {compact(paper.hf_upvotes)} upvotes on HF")
    return " · ".join(parts)


def _team(activity: TeamActivity, permalinks: dict[tuple[str, str], str]) -> str:
    if not activity.discussed:
        return "*Team:* not posted or discussed here yet."
    emoji = sorted(activity.reactions.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_EMOJI]
    lines = [
        f"*Team:* {_plural(activity.votes, 'vote')} (people) · {_plural(activity.replies, 'reply', 'replies')}"
        + ("  " + " ".join(f":{fit(name, 100)}: {n}" for name, n in emoji) if emoji else "")
    ]
    lines += [_thread_line(thread, permalinks) for thread in activity.threads[:10]]
    return "\n".join(lines)


def _thread_line(thread: Thread, permalinks: dict[tuple[str, str], str]) -> str:
    when = _when(thread.posted_at)
    url = permalinks.get((thread.channel_id, thread.ts))
    what = link(url, f"{thread.kind} thread") if url else f"{thread.kind} post"
    return f"• {what} in <#{thread.channel_id}>, {when} · {_plural(thread.replies, 'reply', 'replies')}"


def _when(moment: datetime) -> str:
    moment = aware(moment).astimezone(UTC)  # SQLite hands stored UTC times back without a zone
    return f"<!date^{int(moment.timestamp())}^{{date_short}}|{moment:%Y-%m-%d}>"


def unknown(arxiv_id: str, reason: str) -> dict[str, Any]:
    """Neither source has the paper (or answered)."""
    return {"text": f"I could not find arXiv {escape(arxiv_id)}: {escape(reason)}."}


def problem(text: str, usage: str) -> dict[str, Any]:
    """What was wrong with a command, and its usage (both may hold `<`, escaped here)."""
    usage_lines = "\n".join(fit(line, 1400) for line in usage.splitlines() if line.strip())[:1400]
    body = f"{fit(text, 1500)}\n{usage_lines}"
    summary = f"{fit(text, 400)} (`/papers help` lists every subcommand)"
    return {"text": summary, "blocks": [section(body)]}


def help_reply(text: str) -> dict[str, Any]:
    """The help text (from bot.subcommands), escaped and cut into sections."""
    chunks, current = [], ""
    for line in escape(text).splitlines():
        if len(current) + len(line) + 1 > 2900:
            chunks.append(current)
            current = ""
        current += line + "\n"
    chunks.append(current)
    return {
        "text": fit((text.splitlines()[0] if text else "help"), 300),
        "blocks": [section(c) for c in chunks if c.strip()],
    }
