"""What the team does in Slack, remembered per paper: emoji reactions on a paper's posts, the thread replies under
them (with their edits and deletes); paper links people share in channels are bot.shares', on the same machinery.

Called by the inbox's workers (bot/inbox.py, through bot/events.py), one function per event, after the event was
stored in the inbox and Slack was answered. Each opens its own transaction and, in that same transaction, claims
the event by its id (storage.votes.claim_event) and marks its inbox row done, so Slack's retries and the same event
reaching two replicas change the database once, and a row is done exactly when its change is stored. Everything
the bot or other bots say is ignored (IGNORED); an event about a message that is no paper post *yet* (a vote
that overtook the share it is about) is NOT_KNOWN_YET, and the inbox tries it again for a while.

A transient database error (a dropped connection, a deadlock, SQLite's "database is locked") is retried here a
few times, the whole transaction with its claim each time; when storing still fails, NotStored is raised and
the event stays in the inbox, to be tried again later. Nothing acknowledged is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session
from tenacity import RetryCallState

from bot.deps import Deps
from bot.retrying import scaled_sleep, transaction_retrying, transient
from storage import inbox, votes
from storage.models import utcnow
from storage.posts import find_post
from storage.text import first_line

log = logging.getLogger(__name__)

# Slack retries an event three times within minutes; an hour is its documented outer bound. Event ids and
# reaction clocks are kept twice that, then pruned, at most once per PRUNE_EVERY seconds per process.
KEEP_EVENTS = timedelta(hours=2)
PRUNE_EVERY = 600.0

T = TypeVar("T")


class Outcome(Enum):
    """What applying an event did: CHANGED the stored activity; UNCHANGED it (a repeat, or nothing new), with the
    event claimed; IGNORED it (not a person's doing, or nothing to record); or found its message NOT_KNOWN_YET."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    IGNORED = "ignored"
    NOT_KNOWN_YET = "not known yet"


class NotStored(Exception):
    """Storing an event's change failed, after the quick retries for a transient error; `reason` names the error
    without any text people wrote, `transient` says whether trying later may work."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


@dataclass(frozen=True)
class Delivery:
    """Where an event came from: the workspace, Slack's event id (None when a payload lacks it), the bot's own
    user id (Bolt learns it from auth.test when the app starts), the event's type (for the log) and its inbox
    row (marked done in the change's transaction; None when it came from no inbox)."""

    team_id: str
    event_id: str | None
    bot_user_id: str | None
    event_type: str = "event"
    inbox_id: int | None = None


@dataclass(frozen=True)
class ReactionChange:
    """A reaction_added (`added`) or reaction_removed on a message."""

    channel_id: str
    message_ts: str
    user_id: str
    emoji: str
    event_ts: str | None
    added: bool


@dataclass(frozen=True)
class Message:
    """A channel message as an event shows it (new, edited, or as it was before a delete)."""

    channel_id: str
    ts: str
    thread_ts: str | None
    user_id: str | None
    text: str
    from_bot: bool

    @property
    def is_reply(self) -> bool:
        """A reply in a thread (the thread's parent has thread_ts == ts)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


def base_emoji(name: str) -> str:
    """The emoji without its skin tone, so every thumbs-up is one vote: `base_emoji("+1::skin-tone-3") == "+1"`."""
    return name.split("::", 1)[0]


def slack_ts(value: object) -> str | None:
    """`value` when it is a Slack timestamp (`1764150000.000100`), else None: `slack_ts("soon") is None`."""
    if not isinstance(value, str):
        return None
    try:
        votes.slack_ts_order(value)
    except ValueError:
        return None
    return value


# ---- reactions ------------------------------------------------------------------------------------------------


def record_reaction(deps: Deps, delivery: Delivery, change: ReactionChange) -> Outcome:
    """Count (or uncount) one person's emoji on a paper post; CHANGED when the stored reactions changed."""
    if not change.user_id or not change.emoji or change.user_id == delivery.bot_user_id:
        return Outcome.IGNORED  # the bot's own reactions never count
    return stored(deps, delivery, lambda: _apply_reaction(deps, delivery, change))


def _apply_reaction(deps: Deps, delivery: Delivery, change: ReactionChange) -> Outcome:
    with transaction(deps, delivery) as session:
        post = find_post(session=session, team_id=delivery.team_id, channel_id=change.channel_id, ts=change.message_ts)
        if post is None:
            return Outcome.NOT_KNOWN_YET
        if not first_delivery(session, delivery):
            return Outcome.UNCHANGED
        key = votes.ReactionKey(
            team_id=delivery.team_id,
            channel_id=change.channel_id,
            message_ts=change.message_ts,
            user_id=change.user_id,
            emoji=base_emoji(change.emoji),
        )
        if change.added:
            return _changed(
                votes.add_reaction(session=session, key=key, arxiv_id=post.arxiv_id, event_ts=change.event_ts)
            )
        return _changed(votes.remove_reaction(session=session, key=key, event_ts=change.event_ts))


def _changed(changed: bool) -> Outcome:
    return Outcome.CHANGED if changed else Outcome.UNCHANGED


# ---- messages: thread replies, edits, deletes, shares ------------------------------------------------------


def message_posted(deps: Deps, delivery: Delivery, message: Message) -> Outcome:
    """A new reply (a `thread_broadcast` too): a person's reply in a paper post's thread is recorded, once.
    CHANGED when it was. Top-level messages are bot.shares'."""
    if by_bot(delivery, message) or not message.is_reply:
        return Outcome.IGNORED
    return _change_reply(
        deps,
        delivery,
        message,
        lambda session, key: votes.record_reply(
            session=session, key=key, user_id=str(message.user_id), text=message.text
        ),
    )


def message_edited(deps: Deps, delivery: Delivery, message: Message, *, edited_ts: str) -> Outcome:
    """An edited thread reply under a paper post gets its new text and is marked edited (top-level messages are
    bot.shares')."""
    if by_bot(delivery, message) or not message.is_reply:
        return Outcome.IGNORED
    return _change_reply(
        deps,
        delivery,
        message,
        lambda session, key: votes.edit_reply(
            session=session, key=key, user_id=str(message.user_id), text=message.text, edited_ts=edited_ts
        ),
    )


def message_deleted(deps: Deps, delivery: Delivery, message: Message) -> Outcome:
    """A deleted thread reply under a paper post stops counting (`message` is the reply as it was; top-level
    messages are bot.shares')."""
    if by_bot(delivery, message) or not message.is_reply:
        return Outcome.IGNORED
    return _change_reply(
        deps,
        delivery,
        message,
        lambda session, key: votes.delete_reply(session=session, key=key, user_id=str(message.user_id)),
    )


def _change_reply(
    deps: Deps, delivery: Delivery, message: Message, change: Callable[[Session, votes.ReplyKey], bool]
) -> Outcome:
    """Apply `change` to a reply in a paper post's thread, in the event's transaction (retried when transient)."""

    def attempt() -> Outcome:
        with transaction(deps, delivery) as session:
            key = _reply_key(session, delivery, message)
            if key is None:
                return Outcome.NOT_KNOWN_YET
            if not first_delivery(session, delivery):
                return Outcome.UNCHANGED
            return _changed(change(session, key))

    return stored(deps, delivery, attempt)


def by_bot(delivery: Delivery, message: Message) -> bool:
    """Bots' messages (ours above all) are no one's reply and no one's share."""
    return message.from_bot or not message.user_id or message.user_id == delivery.bot_user_id


def _reply_key(session: Session, delivery: Delivery, message: Message) -> votes.ReplyKey | None:
    """The reply's key when its thread is a paper post's, else None."""
    assert message.thread_ts is not None
    post = find_post(session=session, team_id=delivery.team_id, channel_id=message.channel_id, ts=message.thread_ts)
    if post is None:
        return None
    return votes.ReplyKey(
        team_id=delivery.team_id,
        channel_id=message.channel_id,
        ts=message.ts,
        thread_ts=message.thread_ts,
        arxiv_id=post.arxiv_id,
    )


# ---- the transaction every change runs in, and its retries -----------------------------------------------


def stored(deps: Deps, delivery: Delivery, attempt: Callable[[], T]) -> T:
    """`attempt()` (one whole transaction), tried again after a transient database error (bot.retrying's
    transaction policy); NotStored when it still fails."""

    def announce(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        assert isinstance(failure, StatementError)
        log.info(
            "Slack event %s (%s): storing it failed (%s); trying again in %s s",
            delivery.event_id or "without id",
            delivery.event_type,
            reason(failure),
            state.upcoming_sleep,
        )

    retrying = transaction_retrying(sleep=scaled_sleep(deps.settings.retry_wait_scale), before_sleep=announce)
    try:
        return retrying(attempt)
    except StatementError as exc:  # DBAPIError and its kin: SQLAlchemy's message shows the text people wrote
        raise NotStored(reason(exc), transient=transient(exc)) from None


def reason(exc: StatementError) -> str:
    """The error's class and the driver's, without SQLAlchemy's statement and parameters (they hold what people
    wrote); a transient error's first line too, since those describe the connection or a lock, never a value:
    `OperationalError (OperationalError: database is locked)`."""
    driver = type(exc.orig).__name__ if exc.orig is not None else "no driver error"
    if exc.orig is not None and transient(exc):
        driver = f"{driver}: {first_line(exc.orig)[:200]}"
    return f"{type(exc).__name__} ({driver})"


@contextmanager
def transaction(deps: Deps, delivery: Delivery) -> Iterator[Session]:
    """One transaction for an event's change, which also stores the bot's own user id; old event ids are pruned
    after it, now and then."""
    with deps.sessions.begin() as session:
        votes.remember_bot_user(session=session, team_id=delivery.team_id, bot_user_id=delivery.bot_user_id)
        yield session
    _prune_now_and_then(deps)


def finish_row(session: Session, delivery: Delivery) -> None:
    """Mark the event's inbox row done in the transaction that stores its change (or finds it stored)."""
    if delivery.inbox_id is not None:
        inbox.finish(session=session, row_id=delivery.inbox_id)


def first_delivery(session: Session, delivery: Delivery) -> bool:
    """Claim the event in this transaction and finish its inbox row; False when it was applied before (then
    change nothing)."""
    finish_row(session, delivery)
    if delivery.event_id is None:
        return True  # no id to deduplicate by: the natural keys and clocks still keep repeats harmless
    if votes.claim_event(session=session, team_id=delivery.team_id, event_id=delivery.event_id):
        return True
    log.info(
        "event %s of %s was applied already (a Slack retry or another replica); skipped",
        delivery.event_id,
        delivery.team_id,
    )
    return False


# The process's last prune (time.monotonic), shared by the listener threads: a deliberate module-level value
# like bot.sources.arxiv's TURNS, because Deps is immutable and pruning needs no more than "not too often".
_PRUNE_LOCK = threading.Lock()
_PRUNED_AT: list[float | None] = [None]


def _prune_now_and_then(deps: Deps) -> None:
    """Delete event ids and reaction clocks Slack can no longer need, at most once per PRUNE_EVERY seconds."""
    with _PRUNE_LOCK:
        last = _PRUNED_AT[0]
        if last is not None and time.monotonic() - last < PRUNE_EVERY:
            return
        _PRUNED_AT[0] = time.monotonic()
    try:
        with deps.sessions.begin() as session:
            gone = votes.prune_event_records(session=session, before=utcnow() - KEEP_EVENTS)
            gone += inbox.prune(session=session, before=utcnow() - KEEP_EVENTS)
    except DBAPIError as exc:  # e.g. two replicas' prunes deadlocking: the next prune does it
        log.warning("pruning old Slack event ids failed (%s); the next prune retries", first_line(exc))
        return
    if gone:
        log.debug("pruned %d old Slack event records", gone)
