"""Each person's reading list: papers saved with the digest's Save button, each read or unread (the Home tab)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import Paper, SavedPaper, utcnow
from storage.rows import get_or_insert


def save_paper(*, session: Session, team_id: str, user_id: str, arxiv_id: str) -> bool:
    """Add a paper to someone's list; False when it was already there (a double click changes nothing)."""
    _, created = get_or_insert(session, SavedPaper, {"team_id": team_id, "user_id": user_id, "arxiv_id": arxiv_id})
    return created


def unsave_paper(*, session: Session, team_id: str, user_id: str, arxiv_id: str) -> bool:
    """Remove a paper from someone's list; False when it was not there."""
    result = session.execute(
        delete(SavedPaper).where(
            SavedPaper.team_id == team_id, SavedPaper.user_id == user_id, SavedPaper.arxiv_id == arxiv_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def is_saved(*, session: Session, team_id: str, user_id: str, arxiv_id: str) -> bool:
    """Whether the paper is on someone's list."""
    return (
        session.scalar(
            select(SavedPaper.id).where(
                SavedPaper.team_id == team_id, SavedPaper.user_id == user_id, SavedPaper.arxiv_id == arxiv_id
            )
        )
        is not None
    )


def saved_papers(*, session: Session, team_id: str, user_id: str, limit: int = 20) -> list[Paper]:
    """Someone's saved papers, most recently saved first."""
    return list(
        session.scalars(
            select(Paper)
            .join(SavedPaper, SavedPaper.arxiv_id == Paper.arxiv_id)
            .where(SavedPaper.team_id == team_id, SavedPaper.user_id == user_id)
            .order_by(SavedPaper.created_at.desc(), SavedPaper.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class SavedEntry:
    """One paper on someone's list: the paper, when it was saved, and when it was marked read (None: unread)."""

    paper: Paper
    saved_at: datetime
    read_at: datetime | None


def saved_entries(*, session: Session, team_id: str, user_id: str, limit: int) -> list[SavedEntry]:
    """Someone's saved papers with their read state: unread first, then read; newest saved first within each."""
    rows = session.execute(
        select(Paper, SavedPaper.created_at, SavedPaper.read_at)
        .join(SavedPaper, SavedPaper.arxiv_id == Paper.arxiv_id)
        .where(SavedPaper.team_id == team_id, SavedPaper.user_id == user_id)
        .order_by(SavedPaper.read_at.is_not(None), SavedPaper.created_at.desc(), SavedPaper.id.desc())
        .limit(limit)
    )
    return [SavedEntry(paper, saved_at, read_at) for paper, saved_at, read_at in rows]


def count_saved(*, session: Session, team_id: str, user_id: str) -> tuple[int, int]:
    """(saved, of which unread) on someone's list."""
    saved, unread = session.execute(
        select(func.count(SavedPaper.id), func.count(SavedPaper.id).filter(SavedPaper.read_at.is_(None))).where(
            SavedPaper.team_id == team_id, SavedPaper.user_id == user_id
        )
    ).one()
    return int(saved), int(unread)


def mark_read(
    *, session: Session, team_id: str, user_id: str, arxiv_id: str, read: bool, now: datetime | None = None
) -> bool:
    """Mark a saved paper read (now) or unread; False when it is not on the list or already in that state (a
    double click keeps the first moment it was read)."""
    state = SavedPaper.read_at.is_(None) if read else SavedPaper.read_at.is_not(None)
    result = session.execute(
        update(SavedPaper)
        .where(SavedPaper.team_id == team_id, SavedPaper.user_id == user_id, SavedPaper.arxiv_id == arxiv_id, state)
        .values(read_at=(now or utcnow()) if read else None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
