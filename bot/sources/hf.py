"""Hugging Face Daily Papers: parse its JSON items into PaperRecords, and fetch them over HTTP.

Facts about the API are in ../shared/reference/papers-apis.md. HF marks almost every field optional, so every
lookup here tolerates a missing key and a JSON null alike; only the arXiv id and the title are required.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.links import normalize_arxiv_id
from bot.sources import PaperRecord


def _text(value: Any) -> str | None:
    """A string field with its whitespace collapsed (HF abstracts carry hard line breaks), or None."""
    if not isinstance(value, str):
        return None
    collapsed = " ".join(value.split())
    return collapsed or None


def _int(value: Any) -> int | None:
    # bool is an int in Python, but `true` is never a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _day(value: Any) -> date | None:
    """The calendar date of an HF timestamp such as `2025-11-24T10:04:20.120Z` (or a bare date), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _authors(value: Any) -> list[str]:
    """Author names in order; hidden authors are kept (hidden only means 'no HF account linked')."""
    if not isinstance(value, list):
        return []
    names = (_text(a.get("name")) for a in value if isinstance(a, dict))
    return [name for name in names if name]


def _keywords(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [k for k in (_text(v) for v in value) if k]


def parse_daily_item(item: dict[str, Any]) -> PaperRecord:
    """A PaperRecord from one `daily_papers` item (`{"paper": {...}, "publishedAt", ...}`) or a flat
    `/papers/{id}` object; raises ValueError naming what is missing when there is no arXiv id or title."""
    if not isinstance(item, dict):
        raise ValueError(f"a Hugging Face paper item must be a JSON object, not {type(item).__name__}")
    wrapped = isinstance(item.get("paper"), dict)
    paper: dict[str, Any] = item["paper"] if wrapped else item
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("Hugging Face paper item has no paper.id (the arXiv id)")
    parsed = normalize_arxiv_id(raw_id)
    if parsed is None:
        raise ValueError(f"Hugging Face paper item has paper.id {raw_id!r}, which is not an arXiv id")
    arxiv_id, version = parsed
    title = _text(paper.get("title")) or _text(item.get("title"))
    if title is None:
        raise ValueError(f"Hugging Face paper item {arxiv_id} has no title")
    # The wrapper's publishedAt is the day it was on Daily Papers; a flat paper says submittedOnDailyAt.
    daily = _day(item.get("publishedAt")) if wrapped else _day(paper.get("submittedOnDailyAt"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        authors=_authors(paper.get("authors")),
        abstract=_text(paper.get("summary")) or _text(item.get("summary")),
        published=_day(paper.get("publishedAt")),
        hf_upvotes=_int(paper.get("upvotes")),
        hf_comments=_int(item.get("numComments")),
        ai_summary=_text(paper.get("ai_summary")),
        ai_keywords=_keywords(paper.get("ai_keywords")),
        github_repo=_text(paper.get("githubRepo")),
        github_stars=_int(paper.get("githubStars")),
        project_page=_text(paper.get("projectPage")),
        thumbnail=_text(item.get("thumbnail")),
        daily_date=daily,
        source="hf",
    )
