"""Paper sources (Hugging Face Daily Papers, arXiv, bulk files, the bundled sample).

Every source turns what it reads into `PaperRecord`s; storage.papers.upsert_papers is the one way they reach the
database. Fields a source does not know stay None (or empty), and None never overwrites a known value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(slots=True)
class PaperRecord:
    """One paper as a source saw it. `arxiv_id` is versionless (see bot.links.normalize_arxiv_id)."""

    arxiv_id: str
    title: str
    authors: list[str] = field(default_factory=list)
    abstract: str | None = None
    version: str | None = None  # "v2", when the source named one
    published: date | None = None  # arXiv v1 date
    updated: date | None = None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    hf_upvotes: int | None = None
    hf_comments: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    thumbnail: str | None = None
    daily_date: date | None = None  # the day it was on HF Daily Papers
    source: str = "hf"  # hf | arxiv | snapshot | sample


def without_nul(value: Any) -> Any:
    """`value` with the NUL characters taken out of its strings, at any depth of dicts and lists. PostgreSQL
    stores no NUL in text or jsonb (a paper holding one would fail its whole batch there), and no real title or
    abstract has one, so it goes, on both databases alike.

    >>> without_nul({"title": "A\\x00B", "authors": [{"name": "C\\x00"}], "upvotes": 3})
    {'title': 'AB', 'authors': [{'name': 'C'}], 'upvotes': 3}
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value
