"""What the team did with a paper: votes (emoji reactions) and thread replies on its posts, read back
(`paper_activity`, counted by storage.tally) and recorded from Slack events (callers own the transaction;
nothing here commits).

Slack may deliver an event twice or late: `claim_event` keeps each event's change to one, reactions keep the
Slack time of the newest event applied (a late older one changes nothing), and a reply's edits and delete keep
their own order the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from storage.channels import ensure_workspace
from storage.models import Paper, Post, ProcessedEvent, Reaction, ReactionClock, Reply, utcnow
from storage.rows import get_or_insert
from storage.tally import Scope, count_activity, in_scope
from storage.text import without_nul


@dataclass
class Activity:
    """A paper's activity in one workspace."""

    votes: int = 0  # distinct people who reacted with a vote emoji
    reactions: dict[str, int] = field(default_factory=dict)  # emoji → distinct people
    replies: int = 0  # thread replies by people, not deleted
    channels: list[str] = field(default_factory=list)  # where it was posted, first post first


def paper_activity(
    *, session: Session, team_id: str, arxiv_id: str, vote_emoji: Iterable[str], scope: Scope | None = None
) -> Activity:
    """Votes, reactions per emoji, replies and channels of one paper in one workspace; with `scope`, only on the
    posts in it (a person's view: storage.lookups.scope_of keeps private channels inside)."""
    scope = scope or Scope(team_id=team_id)
    tally = count_activity(session=session, scope=scope, arxiv_ids=[arxiv_id], vote_emoji=vote_emoji)
    channels = session.scalars(
        select(Post.channel_id)
        .where(*in_scope(scope), Post.team_id == team_id, Post.arxiv_id == arxiv_id)
        .group_by(Post.channel_id)
        .order_by(func.min(Post.created_at))
    ).all()
    counts = tally[arxiv_id]
    return Activity(votes=counts.votes, reactions=counts.reactions, replies=counts.replies, channels=list(channels))


@dataclass
class OwnVote:
    """A paper someone voted on: the emoji they gave it (first given first), where, and when they last voted."""

    paper: Paper
    emoji: list[str]
    channel_id: str
    at: datetime


def votes_by(*, session: Session, team_id: str, user_id: str, vote_emoji: Iterable[str], limit: int) -> list[OwnVote]:
    """Someone's own recent votes (their vote-emoji reactions on paper posts), one entry per paper, newest first.
    Their own, so every channel they voted in counts: they were there."""
    rows = session.execute(
        select(Paper, Reaction.emoji, Reaction.channel_id, Reaction.created_at)
        .join(Paper, Paper.arxiv_id == Reaction.arxiv_id)
        .where(Reaction.team_id == team_id, Reaction.user_id == user_id, Reaction.emoji.in_(list(vote_emoji)))
        .order_by(Reaction.created_at.desc(), Reaction.id.desc())
        .limit(limit * 4)  # a person gives a paper a few emoji at most
    )
    found: dict[str, OwnVote] = {}
    for paper, emoji, channel_id, at in rows:
        vote = found.setdefault(paper.arxiv_id, OwnVote(paper, [], channel_id, at))
        if emoji not in vote.emoji:
            vote.emoji.insert(0, emoji)
    return list(found.values())[:limit]


# ---- recording what Slack events say (bot/activity.py calls these inside its transactions) ------------------


@dataclass(frozen=True)
class ReactionKey:
    """One person's emoji on one message: the natural key of a Reaction."""

    team_id: str
    channel_id: str
    message_ts: str
    user_id: str
    emoji: str


def slack_ts_order(ts: str) -> tuple[int, int]:
    """A Slack timestamp as a pair that sorts in time order; a ValueError when it is not one.

    >>> slack_ts_order("1764150000.0001") < slack_ts_order("1764150000.000200")
    True
    """
    seconds, _, fraction = ts.partition(".")
    if not seconds.isdigit() or not (fraction.isdigit() or fraction == "") or len(fraction) > 6:
        raise ValueError(f"{ts!r} is not a Slack timestamp")
    return int(seconds), int(fraction.ljust(6, "0"))


def remember_bot_user(*, session: Session, team_id: str, bot_user_id: str | None) -> None:
    """Store the bot's own user id for the workspace (paper_activity leaves its reactions and replies out)."""
    if not bot_user_id:
        return
    workspace = ensure_workspace(session=session, team_id=team_id)
    if workspace.bot_user_id != bot_user_id:
        workspace.bot_user_id = bot_user_id


def claim_event(*, session: Session, team_id: str, event_id: str) -> bool:
    """Mark a Slack event as applied, in the caller's transaction; False when it already was (a retry, or the
    same event applied by another replica), so the caller must change nothing."""
    # The primary key decides races: a second replica's INSERT waits for the first one's transaction, then fails.
    _, created = get_or_insert(session, ProcessedEvent, {"team_id": team_id, "event_id": event_id})
    return created


def prune_event_records(*, session: Session, before: datetime) -> int:
    """Forget processed event ids and reaction clocks older than `before` (Slack no longer retries those
    events); returns how many rows went."""
    gone = session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < before))
    clocks = session.execute(delete(ReactionClock).where(ReactionClock.updated_at < before))
    return int(gone.rowcount or 0) + int(clocks.rowcount or 0)  # type: ignore[attr-defined]


def add_reaction(*, session: Session, key: ReactionKey, arxiv_id: str, event_ts: str | None) -> bool:
    """Record one person's emoji on a paper post; False when it was there already, or when a newer event for the
    same emoji (its removal) was applied first. `event_ts` None skips that ordering check."""
    if not advance_clock(session, key, event_ts):
        return False
    # The unique key decides a race with the same reaction recorded meanwhile by another transaction.
    _, created = get_or_insert(session, Reaction, asdict(key), {"arxiv_id": arxiv_id})
    return created


def remove_reaction(*, session: Session, key: ReactionKey, event_ts: str | None) -> bool:
    """Forget one person's emoji on a paper post; False when it was not there or a newer event was applied."""
    if not advance_clock(session, key, event_ts):
        return False
    result = session.execute(delete(Reaction).where(*reaction_is(key)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def reaction_is(key: ReactionKey) -> tuple[ColumnElement[bool], ...]:
    """The WHERE clauses that pick this person's emoji on this message."""
    return (
        Reaction.team_id == key.team_id,
        Reaction.channel_id == key.channel_id,
        Reaction.message_ts == key.message_ts,
        Reaction.user_id == key.user_id,
        Reaction.emoji == key.emoji,
    )


def advance_clock(session: Session, key: ReactionKey, event_ts: str | None) -> bool:
    """Move the reaction's clock to `event_ts`; False (clock unchanged) when an event as new was applied."""
    if event_ts is None:
        return True
    # FOR UPDATE (PostgreSQL; SQLite's transactions are serial anyway): an add and a remove of the same emoji on
    # two replicas take turns, and the second compares against the first's time.
    clock, created = get_or_insert(session, ReactionClock, asdict(key), {"event_ts": event_ts}, lock=True)
    if created:
        return True
    if slack_ts_order(event_ts) <= slack_ts_order(clock.event_ts):
        return False
    clock.event_ts, clock.updated_at = event_ts, utcnow()
    return True


@dataclass(frozen=True)
class ReplyKey:
    """A thread reply: its message, the thread it is in, and the paper that thread belongs to."""

    team_id: str
    channel_id: str
    ts: str
    thread_ts: str
    arxiv_id: str


def record_reply(*, session: Session, key: ReplyKey, user_id: str, text: str) -> bool:
    """Remember a person's thread reply under a paper post; False when it is known already (a retry, or its
    edit or delete arrived first and recorded it). NUL characters are dropped from the text: PostgreSQL stores
    none, and failing would lose the reply (Slack got its answer before the reply is stored)."""
    _, created = _find_or_insert_reply(session, key, user_id=user_id, text=without_nul(text))
    return created


def edit_reply(*, session: Session, key: ReplyKey, user_id: str, text: str, edited_ts: str) -> bool:
    """Apply an edit: the new text, marked edited. A reply not seen yet is recorded from its edit; an edit older
    than the one stored, or of a deleted reply, changes nothing (False). NUL characters go, as in record_reply."""
    text = without_nul(text)
    reply, created = _find_or_insert_reply(session, key, user_id=user_id, text=text)
    if not created and (
        reply.deleted or (reply.edited_ts and slack_ts_order(edited_ts) <= slack_ts_order(reply.edited_ts))
    ):
        return False
    reply.text, reply.edited, reply.edited_ts = text, True, edited_ts
    return True


def delete_reply(*, session: Session, key: ReplyKey, user_id: str) -> bool:
    """Mark a reply deleted (it stops counting) and drop its text; a reply not seen yet is recorded as deleted,
    so its own event, arriving late, cannot bring it back. False when it was deleted already."""
    reply, created = _find_or_insert_reply(session, key, user_id=user_id, text="", deleted=True)
    if created:
        return True
    if reply.deleted:
        return False
    reply.deleted, reply.text = True, ""
    return True


def _find_or_insert_reply(
    session: Session, key: ReplyKey, *, user_id: str, text: str, deleted: bool = False
) -> tuple[Reply, bool]:
    """The stored reply, locked for this transaction, or a new one of these values: (reply, made here)."""
    # The unique (team, channel, ts) key decides a race with the same message's other event on another replica.
    return get_or_insert(
        session,
        Reply,
        {"team_id": key.team_id, "channel_id": key.channel_id, "ts": key.ts},
        {"thread_ts": key.thread_ts, "user_id": user_id, "text": text, "deleted": deleted, "arxiv_id": key.arxiv_id},
        lock=True,
    )
