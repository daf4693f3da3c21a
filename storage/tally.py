"""Counting what a team did with papers: distinct voters, reactions per emoji (distinct people) and replies by
people, on the papers' posts in a scope. The one counter behind a paper's details (storage.votes.paper_activity)
and the export (storage.export); callers own the transaction, nothing here writes.

The bot's own reactions and replies never count (the workspace's bot user id, storage.votes.remember_bot_user),
nor do replies without a user (bot and system messages) or deleted ones. A post deleted in Slack (Post.deleted)
is in no scope, unless the scope asks for it (`with_deleted`, the export's list of posts): every count that
starts from `in_scope` leaves it out, with the reactions on it and the replies in its thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from storage.models import ChannelPrivacy, Post, Reaction, Reply, Workspace

ThreadKey = tuple[str, str, str]  # a post's (team, channel, ts): its thread's key


@dataclass(frozen=True)
class Scope:
    """Which posts count: one team (None: all), some channels (empty: all), and posts whose Slack ts is at or
    after `since_ts` (None: all). Slack ts values are `seconds.micros` with ten digits of seconds until 2286,
    so comparing them as text orders them by time; see `bot.export.since_ts`."""

    team_id: str | None = None
    channel_ids: tuple[str, ...] = ()
    since_ts: str | None = None
    # Privacy (lookups): only posts in channels known to be public, plus `here` (the channel asked in, whose own
    # discussion its members may see even when it is private). A channel whose privacy is unknown counts as private.
    public_only: bool = False
    here: str | None = None
    # More channels the viewer may see although they are private: the Home tab's, where its reader is a member.
    also: tuple[str, ...] = ()
    with_deleted: bool = False  # deleted posts too (listing them, never counting on them)


@dataclass
class Tally:
    """The team's activity on a paper's posts in the scope."""

    votes: int = 0  # distinct people who reacted with a vote emoji
    reactions: dict[str, int] = field(default_factory=dict)  # emoji -> distinct people
    replies: int = 0  # thread replies by people, not deleted


def in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    """The conditions on Post that select the scope's posts."""
    conditions: list[ColumnElement[bool]] = []
    if not scope.with_deleted:
        conditions.append(Post.deleted.is_(False))
    if scope.team_id is not None:
        conditions.append(Post.team_id == scope.team_id)
    if scope.channel_ids:
        conditions.append(Post.channel_id.in_(scope.channel_ids))
    if scope.since_ts is not None:
        conditions.append(Post.ts >= scope.since_ts)
    if scope.public_only:
        public = select(ChannelPrivacy.channel_id).where(
            ChannelPrivacy.team_id == Post.team_id, ChannelPrivacy.is_private.is_(False)
        )
        visible = Post.channel_id.in_(public)
        extra = [c for c in (scope.here, *scope.also) if c is not None]
        conditions.append(or_(visible, Post.channel_id.in_(extra)) if extra else visible)
    return conditions


def count_activity(
    *,
    session: Session,
    scope: Scope,
    arxiv_ids: Sequence[str],
    vote_emoji: Iterable[str],
    threads: Mapping[ThreadKey, str] | None = None,
) -> dict[str, Tally]:
    """arXiv id -> votes, reactions per emoji and replies on the papers' posts in the scope, in three queries.
    `threads` maps those posts' (team, channel, ts) to their paper when the caller has them already (the export
    streams them); otherwise one more query reads them."""
    ids = list(dict.fromkeys(arxiv_ids))
    out = {arxiv_id: Tally() for arxiv_id in ids}
    if not ids:
        return out
    reacted = _reactions(scope, ids)
    # User ids are per workspace: a person is (team, user), so two teams' U0001 are two people.
    person = func.distinct(Reaction.team_id + ":" + Reaction.user_id)
    by_emoji = reacted.add_columns(Reaction.emoji, func.count(person)).group_by(Post.arxiv_id, Reaction.emoji)
    for arxiv_id, emoji, people in session.execute(by_emoji):
        out[arxiv_id].reactions[emoji] = people
    voted = reacted.add_columns(func.count(person)).where(Reaction.emoji.in_(list(vote_emoji)))
    for arxiv_id, people in session.execute(voted.group_by(Post.arxiv_id)):
        out[arxiv_id].votes = people
    if threads is None:
        threads = post_threads(session, scope, ids)
    for team_id, channel_id, thread_ts, count in session.execute(replies_per_thread(ids)):
        if (paper := threads.get((team_id, channel_id, thread_ts))) is not None:
            out[paper].replies += count
    return out


def _reactions(scope: Scope, arxiv_ids: list[str]) -> Select[str]:
    """The people's reactions on the papers' posts in the scope, with each post's arXiv id as first column."""
    # A reaction's arXiv id is its post's (as recorded). Naming the ids on the reactions too lets both databases
    # start from ix_reactions_paper: they do not carry an IN list across a join by themselves.
    return (
        select(Post.arxiv_id)
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
            *in_scope(scope),
            Post.arxiv_id.in_(arxiv_ids),
            Reaction.arxiv_id.in_(arxiv_ids),
            Reaction.user_id != func.coalesce(Workspace.bot_user_id, ""),
        )
    )


def post_threads(session: Session, scope: Scope, arxiv_ids: list[str]) -> dict[ThreadKey, str]:
    """(team, channel, ts) -> arXiv id of the papers' posts in the scope."""
    query = select(Post.team_id, Post.channel_id, Post.ts, Post.arxiv_id).where(
        *in_scope(scope), Post.arxiv_id.in_(arxiv_ids)
    )
    return {(team, channel, ts): arxiv_id for team, channel, ts, arxiv_id in session.execute(query)}


def replies_per_thread(arxiv_ids: list[str]) -> Select[str, str, str, int]:
    """(team, channel, thread ts, replies) of the papers' threads: replies by people, not deleted. Grouped by
    thread and matched to the posts by the caller, so the replies are found by ix_replies_paper alone
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


# ---- a channel's week (the weekly recap, bot/recap.py) --------------------------------------------------------


@dataclass
class WeekTally:
    """What people did with one paper in one channel during a window: votes cast and replies written then."""

    arxiv_id: str
    votes: int = 0  # distinct people whose vote emoji on the paper's posts was added in the window
    replies: int = 0  # replies by people written in the window in the paper's threads, not deleted
    threads: list[str] = field(default_factory=list)  # the paper's posts (ts) with activity, most active first


def week_activity(
    *, session: Session, team_id: str, channel_id: str, start: datetime, end: datetime, vote_emoji: Iterable[str]
) -> list[WeekTally]:
    """The papers posted in one channel that people voted on or discussed between `start` and `end` (UTC), with
    those counts; nothing from any other channel. A reaction's time is when paperbot recorded it (Slack's events
    carry no other), a reply's is its Slack ts."""
    scope = in_scope(Scope(team_id=team_id, channel_ids=(channel_id,)))
    person = func.distinct(Reaction.user_id)
    people = (
        select(Post.arxiv_id, Post.ts, func.count(person))
        .select_from(Reaction)
        .join(Post, and_(Post.team_id == Reaction.team_id, Post.channel_id == Reaction.channel_id))
        .outerjoin(Workspace, Workspace.team_id == Reaction.team_id)
        .where(
            *scope,
            Post.ts == Reaction.message_ts,
            Reaction.emoji.in_(list(vote_emoji)),
            Reaction.created_at >= start,
            Reaction.created_at < end,
            Reaction.user_id != func.coalesce(Workspace.bot_user_id, ""),
        )
    )
    per_thread: dict[tuple[str, str], int] = {}
    for arxiv_id, ts, count in session.execute(people.group_by(Post.arxiv_id, Post.ts)):
        per_thread[(arxiv_id, ts)] = count
    out = {a: WeekTally(a) for a, _ in per_thread}
    for arxiv_id, count in session.execute(
        people.with_only_columns(Post.arxiv_id, func.count(person)).group_by(Post.arxiv_id)
    ):
        out[arxiv_id].votes = count
    for arxiv_id, ts, count in session.execute(_week_replies(scope, start, end)):
        out.setdefault(arxiv_id, WeekTally(arxiv_id)).replies += count
        per_thread[(arxiv_id, ts)] = per_thread.get((arxiv_id, ts), 0) + count
    for (arxiv_id, ts), _ in sorted(per_thread.items(), key=lambda item: (-item[1], item[0][1])):
        out[arxiv_id].threads.append(ts)
    return list(out.values())


def _week_replies(scope: list[ColumnElement[bool]], start: datetime, end: datetime) -> Select[str, str, int]:
    """(arXiv id, post ts, replies) of the scope's threads: replies by people written from `start` to `end`."""
    # Slack ts values are seconds since the epoch with ten digits until 2286: as text they sort by time.
    since, until = f"{start.timestamp():.6f}", f"{end.timestamp():.6f}"
    return (
        select(Post.arxiv_id, Post.ts, func.count(Reply.id))
        .select_from(Reply)
        .join(
            Post,
            and_(Post.team_id == Reply.team_id, Post.channel_id == Reply.channel_id, Post.ts == Reply.thread_ts),
        )
        .outerjoin(Workspace, Workspace.team_id == Reply.team_id)
        .where(
            *scope,
            Reply.ts >= since,
            Reply.ts < until,
            Reply.deleted.is_(False),
            Reply.user_id.is_not(None),
            Reply.ts != Reply.thread_ts,
            Reply.user_id != func.coalesce(Workspace.bot_user_id, ""),
        )
        .group_by(Post.arxiv_id, Post.ts)
    )
