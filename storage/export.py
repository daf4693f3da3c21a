"""The read queries of `paperbot export` (callers own the transaction; nothing here writes).

An export is a set of posts (a team, some channels, posted since a day) grouped by paper. `stream_posts` streams
those posts in paper order with one query; the papers' facts and the team's activity on exactly those posts are
then read a batch of papers at a time (`paper_facts`, `tallies`), so a workspace with 100,000 posts exports in
bounded memory with a handful of queries per batch, never one per paper.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from storage.models import Paper, Post, Reaction, Reply, Workspace


@dataclass(frozen=True)
class Scope:
    """Which posts an export covers: one team (None: all), some channels (empty: all), and posts whose Slack
    ts is at or after `since_ts` (None: all). Slack ts values are `seconds.micros` with ten digits of seconds
    until 2286, so comparing them as text orders them by time; see `bot.export.since_ts`."""

    team_id: str | None = None
    channel_ids: tuple[str, ...] = ()
    since_ts: str | None = None


class PostRow(NamedTuple):
    """One post of the export."""

    arxiv_id: str
    team_id: str
    channel_id: str
    ts: str
    kind: str


@dataclass
class Tally:
    """The team's activity on a paper's posts in the scope."""

    votes: int = 0  # distinct people who reacted with a vote emoji
    reactions: dict[str, int] = field(default_factory=dict)  # emoji -> distinct people
    replies: int = 0  # thread replies by people, not deleted


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.team_id is not None:
        conditions.append(Post.team_id == scope.team_id)
    if scope.channel_ids:
        conditions.append(Post.channel_id.in_(scope.channel_ids))
    if scope.since_ts is not None:
        conditions.append(Post.ts >= scope.since_ts)
    return conditions


def stream_posts(*, session: Session, scope: Scope, chunk: int = 1000) -> Iterator[PostRow]:
    """Every post in the scope, grouped by paper: papers by their first post (Slack ts, then arXiv id), each
    paper's posts oldest first. Streams (a server-side cursor on PostgreSQL) `chunk` rows at a time."""
    conditions = _in_scope(scope)
    first = (
        select(Post.arxiv_id, func.min(Post.ts).label("first_ts")).where(*conditions).group_by(Post.arxiv_id).subquery()
    )
    query = (
        select(Post.arxiv_id, Post.team_id, Post.channel_id, Post.ts, Post.kind)
        .join(first, first.c.arxiv_id == Post.arxiv_id)
        .where(*conditions)
        .order_by(first.c.first_ts, Post.arxiv_id, Post.ts, Post.team_id, Post.channel_id)
    )
    for row in session.execute(query, execution_options={"yield_per": chunk}):
        yield PostRow(*row)


def paper_facts(*, session: Session, arxiv_ids: Sequence[str]) -> dict[str, Any]:
    """arXiv id -> the paper's exported columns (no abstract: exports don't carry it)."""
    if not arxiv_ids:
        return {}
    rows = session.execute(
        select(
            Paper.arxiv_id,
            Paper.title,
            Paper.authors,
            Paper.published,
            Paper.hf_upvotes,
            Paper.primary_category,
            Paper.doi,
            Paper.journal_ref,
        ).where(Paper.arxiv_id.in_(list(arxiv_ids)))
    ).all()
    return {row.arxiv_id: row for row in rows}


def tallies(*, session: Session, scope: Scope, posts: Sequence[PostRow], vote_emoji: Iterable[str]) -> dict[str, Tally]:
    """arXiv id -> votes, reactions per emoji and replies on exactly these posts (a batch of the stream), in
    three queries. The bot's own reactions and replies never count; a reply without a user is a bot's."""
    ids = list(dict.fromkeys(post.arxiv_id for post in posts))
    out = {arxiv_id: Tally() for arxiv_id in ids}
    if not ids:
        return out
    # User ids are per workspace: a person is (team, user), so two teams' U0001 are two people.
    person = func.distinct(Reaction.team_id + ":" + Reaction.user_id)
    # A reaction's arXiv id is its post's (as recorded). Naming the batch's ids on the reactions too lets both
    # databases start from ix_reactions_paper: they do not carry an IN list across a join by themselves.
    reacted = (
        select(Post.arxiv_id, Reaction.emoji, func.count(person))
        .select_from(Reaction)
        .join(
            Post,
            and_(
                Post.team_id == Reaction.team_id,
                Post.channel_id == Reaction.channel_id,
                Post.ts == Reaction.message_ts,
                Post.arxiv_id == Reaction.arxiv_id,
            ),
        )
        .outerjoin(Workspace, Workspace.team_id == Reaction.team_id)
        .where(
            *_in_scope(scope),
            Post.arxiv_id.in_(ids),
            Reaction.arxiv_id.in_(ids),
            Reaction.user_id != func.coalesce(Workspace.bot_user_id, ""),
        )
    )
    for arxiv_id, emoji, people in session.execute(reacted.group_by(Post.arxiv_id, Reaction.emoji)):
        out[arxiv_id].reactions[emoji] = people
    voted = reacted.with_only_columns(Post.arxiv_id, func.count(person)).where(Reaction.emoji.in_(list(vote_emoji)))
    for arxiv_id, people in session.execute(voted.group_by(Post.arxiv_id)):
        out[arxiv_id].votes = people
    threads = {(post.team_id, post.channel_id, post.ts): post.arxiv_id for post in posts}
    for team_id, channel_id, thread_ts, count in session.execute(_replies_per_thread(ids)):
        if (paper := threads.get((team_id, channel_id, thread_ts))) is not None:
            out[paper].replies += count
    return out


def _replies_per_thread(arxiv_ids: list[str]) -> Any:
    """(team, channel, thread ts, replies) of the papers' threads: replies by people, not deleted. Grouped by
    thread and matched to the batch's posts by the caller, so the replies are found by ix_replies_paper alone
    (joined to posts, SQLite would scan each channel's replies: thread_ts has no index)."""
    return (
        select(Reply.team_id, Reply.channel_id, Reply.thread_ts, func.count(Reply.id))
        .select_from(Reply)
        .outerjoin(Workspace, Workspace.team_id == Reply.team_id)
        .where(
            Reply.arxiv_id.in_(arxiv_ids),
            Reply.deleted.is_(False),
            Reply.user_id.is_not(None),
            Reply.ts != Reply.thread_ts,
            Reply.user_id != func.coalesce(Workspace.bot_user_id, ""),
        )
        .group_by(Reply.team_id, Reply.channel_id, Reply.thread_ts)
    )
