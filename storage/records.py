"""The paper record every source produces and storage stores: the type a room stores lives in that room.

Fields a source does not know stay None (or empty), and None never overwrites a known value
(storage.papers.upsert_papers is the one way records reach the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from storage.states import PaperSource


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
    # A PaperSource value; typed str until bot/sources/hf.py and arxiv.py pass the enum (the Paper column refuses
    # any other text when it is written).
    source: str = PaperSource.HF
