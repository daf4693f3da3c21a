"""What an export holds: its options and, per paper, the paper's facts and the team's activity on its posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

FORMATS = ("json", "csv", "bibtex")
EXTENSIONS = {"json": "json", "csv": "csv", "bibtex": "bib"}


@dataclass(frozen=True)
class ExportOptions:
    """What to export: the format and the filters of `paperbot export` (empty channels: every channel).
    `public_only` keeps private channels out (a channel whose privacy is not known counts as private), except
    `here`, the channel `/papers export all` was asked in (storage.tally.Scope)."""

    fmt: str = "json"
    team_id: str | None = None
    channel_ids: tuple[str, ...] = ()
    since: date | None = None
    min_votes: int = 0
    public_only: bool = False
    here: str | None = None


@dataclass(frozen=True)
class PostRef:
    """One Slack message about the paper."""

    team: str
    channel: str
    ts: str
    kind: str  # digest | share | lookup
    deleted: bool = False  # deleted in Slack: listed, but nothing on it counts


@dataclass
class PaperExport:
    """One exported paper: its facts and what the team did with it."""

    arxiv_id: str
    title: str
    authors: list[str]
    published: date | None
    hf_upvotes: int | None
    votes: int
    reactions: dict[str, int]
    replies: int
    posts: list[PostRef]
    primary_category: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
