"""Catch-up from Slack: set a paper post's stored reactions and thread replies to exactly what Slack shows, and
remember how far a workspace's run got (callers own the transaction; nothing here commits).

Slack's state wins, but an event newer than Slack's answer wins over that answer. `observed_at` is a Slack
timestamp taken just *before* the post was read from Slack:

- Reactions: each (person, emoji) on the post that either side has is decided under its reaction clock (the same
  `reaction_clocks` row events use, locked). When an event at or after `observed_at` was applied already, the
  stored state is that event's and is left alone; otherwise the stored state becomes Slack's and the clock moves
  to `observed_at`, so a late event older than Slack's answer (a Slack retry, a backlog) cannot undo it.
- Replies: their own edit time is their clock. An edit is applied only when Slack's is newer than the stored
  one; a reply stored as deleted stays deleted (Slack never brings a message back); a stored reply Slack no longer
  has is marked deleted, unless it was posted after `observed_at` (its event may be newer than Slack's answer).
- Deleted posts: a post marked deleted (storage.posts.mark_post_deleted) is never read again nor changed: Slack
  no longer shows its reactions, and making the stored ones Slack's would destroy what it had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.digests import aware
from storage.models import Post, Reaction, ReconcileRun, Reply, utcnow
from storage.rows import get_or_insert
from storage.text import without_nul
from storage.votes import ReactionKey, advance_clock, reaction_is, slack_ts_order


@dataclass(frozen=True)
class SlackReply:
    """A person's thread reply as Slack shows it now: `edited_ts` is the time of its last edit, if any."""

    ts: str
    user_id: str
    text: str
    edited_ts: str | None = None


@dataclass(frozen=True)
class SlackPost:
    """What Slack shows of one paper post: (person, emoji) pairs, and the people's replies in its thread."""

    reactions: frozenset[tuple[str, str]]
    replies: tuple[SlackReply, ...] = ()


@dataclass
class Changes:
    """What a reconciliation changed in the stored state."""

    reactions_added: int = 0
    reactions_removed: int = 0
    replies_added: int = 0
    replies_edited: int = 0
    replies_deleted: int = 0

    def __iadd__(self, other: Changes) -> Changes:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def any(self) -> bool:
        """True when anything changed."""
        return any(asdict(self).values())


@dataclass(frozen=True)
class PostRef:
    """A paper post to reconcile."""

    id: int
    team_id: str
    channel_id: str
    ts: str
    arxiv_id: str


def recent_posts(*, session: Session, team_id: str, since: datetime, after_id: int = 0) -> list[PostRef]:
    """The workspace's paper posts recorded since `since` with an id above `after_id`, in id order; not the
    deleted ones."""
    rows = session.execute(
        select(Post.id, Post.team_id, Post.channel_id, Post.ts, Post.arxiv_id)
        .where(Post.team_id == team_id, Post.created_at >= since, Post.id > after_id, Post.deleted.is_(False))
        .order_by(Post.id)
    ).all()
    return [PostRef(*row) for row in rows]


def set_post_state(*, session: Session, post: PostRef, slack: SlackPost, observed_at: str) -> Changes:
    """Make the post's stored reactions and replies Slack's (see the module docstring for the clock rules); a
    post deleted since it was listed is left as it is."""
    if session.scalar(select(Post.deleted).where(Post.id == post.id).with_for_update()) is not False:
        return Changes()
    changes = _set_reactions(session, post, slack.reactions, observed_at)
    changes += _set_replies(session, post, slack.replies, observed_at)
    return changes


def _set_reactions(session: Session, post: PostRef, wanted: frozenset[tuple[str, str]], observed_at: str) -> Changes:
    rows = session.execute(
        select(Reaction.user_id, Reaction.emoji).where(
            Reaction.team_id == post.team_id, Reaction.channel_id == post.channel_id, Reaction.message_ts == post.ts
        )
    )
    stored = {(user_id, emoji) for user_id, emoji in rows}
    changes = Changes()
    # Sorted, so two transactions lock the same clocks in the same order (no deadlock between replicas).
    for user_id, emoji in sorted(stored | wanted):
        key = ReactionKey(post.team_id, post.channel_id, post.ts, user_id, emoji)
        if not advance_clock(session, key, observed_at):  # Slack's answer moves the clock, as an event would
            continue  # an event as new as Slack's answer decided this one
        present = _has_reaction(session, key)
        if (user_id, emoji) in wanted and not present:
            _, created = get_or_insert(session, Reaction, asdict(key), {"arxiv_id": post.arxiv_id})
            changes.reactions_added += int(created)
        elif (user_id, emoji) not in wanted and present:
            session.execute(delete(Reaction).where(*reaction_is(key)))
            changes.reactions_removed += 1
    return changes


def _has_reaction(session: Session, key: ReactionKey) -> bool:
    return session.scalar(select(Reaction.id).where(*reaction_is(key))) is not None


def _set_replies(session: Session, post: PostRef, replies: tuple[SlackReply, ...], observed_at: str) -> Changes:
    stored = {
        reply.ts: reply
        for reply in session.scalars(
            select(Reply)
            .where(Reply.team_id == post.team_id, Reply.channel_id == post.channel_id, Reply.thread_ts == post.ts)
            .order_by(Reply.ts)
            .with_for_update()
        )
    }
    changes = Changes()
    for seen in replies:
        known = stored.get(seen.ts)
        if known is None:
            changes.replies_added += int(_add_reply(session, post, seen))
        else:
            changes.replies_edited += int(_update_reply(known, seen))
    in_slack = {seen.ts for seen in replies}
    for ts, known in stored.items():
        if ts not in in_slack and not known.deleted and slack_ts_order(ts) <= slack_ts_order(observed_at):
            known.deleted, known.text = True, ""
            changes.replies_deleted += 1
    return changes


def _add_reply(session: Session, post: PostRef, seen: SlackReply) -> bool:
    """Store a reply the bot never heard of; False when an event stored it meanwhile (then it is left alone)."""
    _, created = get_or_insert(
        session,
        Reply,
        {"team_id": post.team_id, "channel_id": post.channel_id, "ts": seen.ts},
        {
            "thread_ts": post.ts,
            "user_id": seen.user_id,
            "text": without_nul(seen.text),
            "edited": seen.edited_ts is not None,
            "edited_ts": seen.edited_ts,
            "deleted": False,
            "arxiv_id": post.arxiv_id,
        },
    )
    return created


def _update_reply(known: Reply, seen: SlackReply) -> bool:
    """Take Slack's text when Slack's edit is newer than the stored one; a deleted reply stays deleted."""
    if known.deleted or seen.edited_ts is None:
        return False
    if known.edited_ts is not None and slack_ts_order(seen.edited_ts) <= slack_ts_order(known.edited_ts):
        return False
    known.text, known.edited, known.edited_ts = without_nul(seen.text), True, seen.edited_ts
    return True


# ---- a workspace's run, resumable ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStart:
    """Where a run begins: after post id `cursor`; `resumed` when it continues an interrupted run."""

    cursor: int
    resumed: bool
    started_at: datetime = field(default_factory=utcnow)


def start_run(*, session: Session, team_id: str, now: datetime, resume_since: datetime) -> RunStart:
    """Begin the workspace's run: continue an unfinished one whose last sign of life is after `resume_since`,
    else start over from the first post."""
    run, created = get_or_insert(
        session, ReconcileRun, {"team_id": team_id}, {"started_at": now, "heartbeat_at": now}, lock=True
    )
    if not created and run.finished_at is None and aware(run.heartbeat_at) >= resume_since:
        run.heartbeat_at = now
        return RunStart(cursor=run.cursor, resumed=True, started_at=aware(run.started_at))
    run.started_at, run.heartbeat_at, run.cursor, run.finished_at = now, now, 0, None
    return RunStart(cursor=0, resumed=False, started_at=now)


def advance_run(*, session: Session, team_id: str, post_id: int, now: datetime) -> None:
    """Record that the run has done every post up to `post_id` (never moves back: replicas may share a run)."""
    run = session.get(ReconcileRun, team_id, with_for_update=True)
    if run is not None:
        run.cursor, run.heartbeat_at = max(run.cursor, post_id), now


def finish_run(*, session: Session, team_id: str, now: datetime) -> None:
    """Mark the workspace's run done: the next one starts over."""
    run = session.get(ReconcileRun, team_id, with_for_update=True)
    if run is not None:
        run.finished_at, run.heartbeat_at = now, now
