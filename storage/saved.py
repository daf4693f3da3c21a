"""Each person's reading list: papers saved with the digest's Save button."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Paper, SavedPaper
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
