"""A person's view of the reading room: saving papers, a paper's details with the team's activity, the Home tab.

Called by handlers/actions.py and handlers/home.py; each function owns one short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from storage import saved as saved_store
from storage.lookups import Viewer, scope_of
from storage.models import Paper
from storage.papers import get_paper
from storage.votes import Activity, paper_activity

HOME_LIMIT = 30  # papers on the Home tab; each takes two blocks of the 100 a view may hold


@dataclass
class PaperView:
    """One paper as one person sees it: the paper, the team's activity on it, whether they saved it."""

    paper: Paper
    activity: Activity
    saved: bool


def save(sessions: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str) -> tuple[Paper | None, bool]:
    """Save a known paper to the person's list: (paper, newly saved); (None, False) for an unknown paper."""
    with sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        if paper is None:
            return None, False
        return paper, saved_store.save_paper(session=session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)


def unsave(sessions: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str) -> bool:
    """Remove a paper from the person's list; False when it was not on it."""
    with sessions.begin() as session:
        return saved_store.unsave_paper(session=session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)


def details(
    sessions: sessionmaker[Session], settings: Settings, *, viewer: Viewer, user_id: str, arxiv_id: str
) -> PaperView | None:
    """A paper with the team's votes, reactions, replies and channels as the viewer may see them (public
    channels and the one the button was pressed in), or None when it is unknown."""
    with sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        if paper is None:
            return None
        activity = paper_activity(
            session=session,
            team_id=viewer.team_id,
            arxiv_id=arxiv_id,
            vote_emoji=settings.vote_emoji,
            scope=scope_of(viewer),
        )
        saved = saved_store.is_saved(session=session, team_id=viewer.team_id, user_id=user_id, arxiv_id=arxiv_id)
        return PaperView(paper=paper, activity=activity, saved=saved)


def reading_list(sessions: sessionmaker[Session], *, team_id: str, user_id: str) -> list[Paper]:
    """The person's most recently saved papers, for the Home tab."""
    with sessions.begin() as session:
        return saved_store.saved_papers(session=session, team_id=team_id, user_id=user_id, limit=HOME_LIMIT)
