"""What the team did with a paper: votes (emoji reactions) and thread replies on its posts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Post, Reaction, Reply, Workspace


@dataclass
class Activity:
    """A paper's activity in one workspace."""

    votes: int = 0  # distinct people who reacted with a vote emoji
    reactions: dict[str, int] = field(default_factory=dict)  # emoji → distinct people
    replies: int = 0  # thread replies by people, not deleted
    channels: list[str] = field(default_factory=list)  # where it was posted, first post first


def paper_activity(*, session: Session, team_id: str, arxiv_id: str, vote_emoji: Iterable[str]) -> Activity:
    """Votes, reactions per emoji, replies and channels of one paper in one workspace."""
    # The bot's own reactions and replies never count; replies with no user are bot or system messages.
    bot_user = session.scalar(select(Workspace.bot_user_id).where(Workspace.team_id == team_id)) or ""
    mine = (Reaction.team_id == team_id, Reaction.arxiv_id == arxiv_id, Reaction.user_id != bot_user)
    rows = session.execute(
        select(Reaction.emoji, func.count(func.distinct(Reaction.user_id))).where(*mine).group_by(Reaction.emoji)
    )
    reactions = {emoji: count for emoji, count in rows}
    votes = session.scalar(
        select(func.count(func.distinct(Reaction.user_id))).where(*mine, Reaction.emoji.in_(list(vote_emoji)))
    ) or 0
    replies = session.scalar(
        select(func.count()).select_from(Reply)
        .where(Reply.team_id == team_id, Reply.arxiv_id == arxiv_id, Reply.deleted.is_(False),
               Reply.user_id.is_not(None), Reply.user_id != bot_user)
    ) or 0
    channels = session.scalars(
        select(Post.channel_id).where(Post.team_id == team_id, Post.arxiv_id == arxiv_id)
        .group_by(Post.channel_id).order_by(func.min(Post.created_at))
    ).all()
    return Activity(votes=votes, reactions=reactions, replies=replies, channels=list(channels))
