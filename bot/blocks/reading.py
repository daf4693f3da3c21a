"""A paper read closely: the Show details answer, the Save button's answer, and the answer when a button names a
paper the database no longer knows (the Home tab is bot.blocks.home)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from bot.blocks.common import Block, context, fit, link, section
from bot.blocks.paper import PaperLike, links_line, stats_line, title_link

ABSTRACT_LIMIT = 2900


class PaperDetailsLike(PaperLike, Protocol):
    """The extra fields the details view shows (storage.models.Paper has them all)."""

    @property
    def published(self) -> date | None: ...
    @property
    def categories(self) -> Sequence[str] | None: ...
    @property
    def comments(self) -> str | None: ...
    @property
    def journal_ref(self) -> str | None: ...
    @property
    def doi(self) -> str | None: ...


class ActivityLike(Protocol):
    """The team's activity on a paper (storage.votes.Activity)."""

    votes: int
    reactions: dict[str, int]
    replies: int
    channels: list[str]


def _facts_line(paper: PaperDetailsLike) -> str:
    facts = []
    if paper.published:
        facts.append(f"published {paper.published.isoformat()}")
    if paper.categories:
        facts.append(fit(", ".join(paper.categories), 200))
    if paper.journal_ref:
        facts.append(fit(paper.journal_ref, 200))
    if paper.doi:
        facts.append(link(f"https://doi.org/{paper.doi}", f"doi:{paper.doi}", 120))
    if paper.comments:
        facts.append(fit(paper.comments, 300))
    return " · ".join(facts)


def _team_line(activity: ActivityLike) -> str:
    votes = f"{activity.votes} vote{'' if activity.votes == 1 else 's'}"
    replies = f"{activity.replies} repl{'y' if activity.replies == 1 else 'ies'}"
    emoji = " ".join(f":{fit(name, 100)}: {n}" for name, n in sorted(activity.reactions.items(), key=lambda kv: -kv[1]))
    where = " in " + ", ".join(f"<#{c}>" for c in activity.channels[:10]) if activity.channels else ""
    posted = f"posted{where}" if activity.channels else "not posted here or in a public channel yet"
    return " · ".join(part for part in (f"Team: {votes}", replies, emoji, posted) if part)


def paper_details(paper: PaperDetailsLike, *, activity: ActivityLike, saved: bool) -> dict[str, Any]:
    """The Show details answer: the whole abstract, the paper's facts and links, and the team's activity."""
    authors = ", ".join(" ".join(a.split()) for a in paper.authors or [] if a and a.strip())
    head = f"*{title_link(paper)}*" + (f"\n{fit(authors, 1500)}" if authors else "")
    blocks: list[Block] = [section(head)]
    if paper.ai_summary:
        blocks.append(section(f"_AI summary:_ {fit(paper.ai_summary, 1500)}"))
    if paper.abstract:
        blocks.append(section(fit(paper.abstract, ABSTRACT_LIMIT)))
    lines = [line for line in (links_line(paper), stats_line(paper), _facts_line(paper)) if line]
    lines.append(_team_line(activity) + (" · on your reading list" if saved else ""))
    blocks.append(context(*lines))
    return {"text": fit(f"{paper.title or paper.arxiv_id} (arXiv {paper.arxiv_id})", 500), "blocks": blocks}


def save_reply(paper: PaperLike, *, added: bool) -> dict[str, Any]:
    """The Save button's private answer."""
    title = title_link(paper)
    text = (
        f"Saved {title} to your reading list: it's on paperbot's Home tab."
        if added
        else f"{title} is already on your reading list (paperbot's Home tab)."
    )
    return {
        "text": fit(f"Saved {paper.title}" if added else f"Already saved: {paper.title}", 500),
        "blocks": [section(f":bookmark: {text}")],
    }


def unknown_paper(arxiv_id: str) -> dict[str, Any]:
    """The answer when a button names a paper the database no longer knows."""
    text = f"I don't know the paper {fit(arxiv_id, 80)} any more; it may have been removed from the database."
    return {"text": text, "blocks": [section(text)]}
