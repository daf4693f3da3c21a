"""The read queries behind `/papers show`, `search`, `top` and `filter`: the team's activity on papers, limited to
what the person asking may see (callers own the transaction; only `remember_privacy` writes, and never commits).

Privacy: a post, vote or reply in a private channel is visible only to an answer given inside that channel. A
channel is public only when `channel_privacy` says so; one not known there counts as private until the caller has
asked Slack (bot.lookups resolves unknown channels with conversations.info before it reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import ChannelPrivacy, Paper, Post, Reaction, Reply, Workspace, utcnow


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and where: the team, and the channel the answer is given in (None: a DM or the CLI)."""

    team_id: str
    channel_id: str | None = None


@dataclass(frozen=True)
class Thread:
    """One post of a paper: where and when it was posted, and how many replies its thread has."""

    channel_id: str
    ts: str
    kind: str
    posted_at: datetime
    replies: int = 0


@dataclass
class TeamActivity:
    """What the team did with one paper, as far as the viewer may see."""

    votes: int = 0  # distinct people who reacted with a vote emoji
    reactions: dict[str, int] = field(default_factory=dict)  # emoji -> distinct people
    replies: int = 0  # thread replies by people, not deleted
    threads: list[Thread] = field(default_factory=list)  # newest first

    @property
    def discussed(self) -> bool:
        """True when the team posted, voted on or replied to the paper."""
        return bool(self.threads or self.votes or self.replies)


def remember_privacy(*, session: Session, team_id: str, channel_id: str, is_private: bool) -> None:
    """Store whether a channel is private (as an event or conversations.info just said)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"team_id": team_id, "channel_id": channel_id, "is_private": is_private, "checked_at": utcnow()}
    statement = insert(ChannelPrivacy).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["team_id", "channel_id"],
            set_={"is_private": statement.excluded.is_private, "checked_at": statement.excluded.checked_at},
        )
    )


def unknown_channels(*, session: Session, team_id: str, arxiv_ids: Iterable[str]) -> set[str]:
    """The channels holding posts of these papers whose privacy is not known yet."""
    ids = list(arxiv_ids)
    if not ids:
        return set()
    known = select(ChannelPrivacy.channel_id).where(ChannelPrivacy.team_id == team_id)
    rows = session.scalars(
        select(Post.channel_id)
        .where(Post.team_id == team_id, Post.arxiv_id.in_(ids), Post.channel_id.not_in(known))
        .distinct()
    )
    return set(rows)


def visible_in(column: SQLColumnExpression[str], viewer: Viewer) -> ColumnElement[bool]:
    """`column` (a channel id) names a channel the viewer may see: a known public one, or the one asked in."""
    public = select(ChannelPrivacy.channel_id).where(
        ChannelPrivacy.team_id == viewer.team_id, ChannelPrivacy.is_private.is_(False)
    )
    if viewer.channel_id is None:
        return column.in_(public)
    return or_(column == viewer.channel_id, column.in_(public))


def _bot_user(session: Session, team_id: str) -> str:
    return session.scalar(select(Workspace.bot_user_id).where(Workspace.team_id == team_id)) or ""


def team_activity(
    *, session: Session, viewer: Viewer, arxiv_ids: Sequence[str], vote_emoji: Iterable[str]
) -> dict[str, TeamActivity]:
    """Votes, reactions by emoji, replies and threads of each paper, as the viewer may see them (one query each,
    whatever the number of papers). The bot's own reactions and replies never count."""
    found = {arxiv_id: TeamActivity() for arxiv_id in arxiv_ids}
    if not found:
        return found
    bot_user, ids, emoji = _bot_user(session, viewer.team_id), list(found), list(vote_emoji)
    mine = (
        Reaction.team_id == viewer.team_id,
        Reaction.arxiv_id.in_(ids),
        Reaction.user_id != bot_user,
        visible_in(Reaction.channel_id, viewer),
    )
    people = func.count(func.distinct(Reaction.user_id))
    for arxiv_id, name, count in session.execute(
        select(Reaction.arxiv_id, Reaction.emoji, people).where(*mine).group_by(Reaction.arxiv_id, Reaction.emoji)
    ):
        found[arxiv_id].reactions[name] = count
    for arxiv_id, count in session.execute(
        select(Reaction.arxiv_id, people).where(*mine, Reaction.emoji.in_(emoji)).group_by(Reaction.arxiv_id)
    ):
        found[arxiv_id].votes = count
    per_thread = _replies_per_thread(session, viewer, ids, bot_user)
    for post in session.scalars(
        select(Post)
        .where(Post.team_id == viewer.team_id, Post.arxiv_id.in_(ids), visible_in(Post.channel_id, viewer))
        .order_by(Post.created_at.desc(), Post.id.desc())
    ):
        replies = per_thread.get((post.channel_id, post.ts), 0)
        found[post.arxiv_id].threads.append(Thread(post.channel_id, post.ts, post.kind, post.created_at, replies))
        found[post.arxiv_id].replies += replies
    return found


def _people_replies(viewer: Viewer, bot_user: str) -> tuple[ColumnElement[bool], ...]:
    return (
        Reply.team_id == viewer.team_id,
        Reply.deleted.is_(False),
        Reply.user_id.is_not(None),
        Reply.user_id != bot_user,
        visible_in(Reply.channel_id, viewer),
    )


def _replies_per_thread(session: Session, viewer: Viewer, ids: list[str], bot_user: str) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Reply.channel_id, Reply.thread_ts, func.count())
        .where(*_people_replies(viewer, bot_user), Reply.arxiv_id.in_(ids))
        .group_by(Reply.channel_id, Reply.thread_ts)
    )
    return {(channel, thread): count for channel, thread, count in rows}


@dataclass(frozen=True)
class Ranking:
    """How `top` and `filter` order the team's papers and which of them they consider."""

    posted_since: datetime | None = None  # only papers with a visible post since then
    channel_id: str | None = None  # only papers posted in this channel
    min_votes: int = 0
    min_replies: int = 0
    sort: str = "votes"  # votes | replies | upvotes | date


def team_ranked(
    *, session: Session, viewer: Viewer, vote_emoji: Iterable[str], ranking: Ranking, limit: int, offset: int = 0
) -> list[tuple[str, int, int]]:
    """(arxiv_id, votes, replies) of the papers the team posted where the viewer may see, best first: by the
    team's votes, then replies, then HF upvotes (or by `ranking.sort`), newest post breaking ties."""
    bot_user = _bot_user(session, viewer.team_id)
    posts = _team_posts(viewer, ranking).subquery()
    votes = (
        select(Reaction.arxiv_id, func.count(func.distinct(Reaction.user_id)).label("n"))
        .where(
            Reaction.team_id == viewer.team_id,
            Reaction.user_id != bot_user,
            Reaction.emoji.in_(list(vote_emoji)),
            visible_in(Reaction.channel_id, viewer),
        )
        .group_by(Reaction.arxiv_id)
        .subquery()
    )
    replies = (
        select(Reply.arxiv_id, func.count().label("n"))
        .where(*_people_replies(viewer, bot_user))
        .group_by(Reply.arxiv_id)
        .subquery()
    )
    n_votes, n_replies = func.coalesce(votes.c.n, 0), func.coalesce(replies.c.n, 0)
    upvotes = func.coalesce(Paper.hf_upvotes, 0)
    order = {
        "votes": (n_votes.desc(), n_replies.desc(), upvotes.desc()),
        "replies": (n_replies.desc(), n_votes.desc(), upvotes.desc()),
        "upvotes": (upvotes.desc(), n_votes.desc(), n_replies.desc()),
        "date": (posts.c.last.desc(),),
    }[ranking.sort if ranking.sort in ("votes", "replies", "upvotes", "date") else "votes"]
    query = (
        select(posts.c.arxiv_id, n_votes, n_replies)
        .join(Paper, Paper.arxiv_id == posts.c.arxiv_id)
        .outerjoin(votes, votes.c.arxiv_id == posts.c.arxiv_id)
        .outerjoin(replies, replies.c.arxiv_id == posts.c.arxiv_id)
        .where(n_votes >= ranking.min_votes, n_replies >= ranking.min_replies)
        .order_by(*order, posts.c.last.desc(), posts.c.arxiv_id)
        .limit(limit)
        .offset(offset)
    )
    return [(arxiv_id, int(v), int(r)) for arxiv_id, v, r in session.execute(query)]


def _team_posts(viewer: Viewer, ranking: Ranking) -> Select[str, datetime]:
    conditions = [Post.team_id == viewer.team_id, visible_in(Post.channel_id, viewer)]
    if ranking.posted_since is not None:
        conditions.append(Post.created_at >= ranking.posted_since)
    if ranking.channel_id is not None:
        conditions.append(Post.channel_id == ranking.channel_id)
    return (
        select(Post.arxiv_id, func.max(Post.created_at).label("last")).where(and_(*conditions)).group_by(Post.arxiv_id)
    )


def discussed_ids(*, session: Session, viewer: Viewer, arxiv_ids: Sequence[str]) -> set[str]:
    """Which of these papers have a post the viewer may see."""
    if not arxiv_ids:
        return set()
    rows = session.scalars(
        select(Post.arxiv_id)
        .where(Post.team_id == viewer.team_id, Post.arxiv_id.in_(list(arxiv_ids)), visible_in(Post.channel_id, viewer))
        .distinct()
    )
    return set(rows)
