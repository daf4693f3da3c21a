"""The durable event inbox: Slack events stored as they arrived, then taken, applied and finished by workers
(bot/inbox.py). Callers own the transaction; nothing here commits.

A worker takes due pending rows under a lease (PostgreSQL skips rows another transaction holds; SQLite's
transactions take turns, one writer at a time). A row whose lease ran out (its worker died) is due again for any
worker. `finish` goes into the transaction of the event's own change where it can, so a row is done exactly
when its change is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import InboxEvent, utcnow
from storage.states import InboxState

ERROR_LENGTH = 500  # InboxEvent.last_error's column


@dataclass(frozen=True)
class Arrival:
    """An event as it reaches the inbox: its key, its `type/subtype`, the envelope as JSON, the bot's user id."""

    team_id: str
    event_id: str
    event_type: str
    body: str
    bot_user_id: str | None


@dataclass(frozen=True)
class Taken:
    """A row a worker took: what it needs to apply it, and when it first arrived."""

    id: int
    team_id: str
    event_id: str
    event_type: str
    body: str
    bot_user_id: str | None
    received_at: datetime
    attempts: int


def add(*, session: Session, arrival: Arrival, now: datetime | None = None) -> bool:
    """Store an arriving event; False when its (team, event id) is stored already (Slack's retry of it). One
    INSERT, whatever the database: a duplicate key is skipped by the database itself."""
    moment = now or utcnow()
    values: dict[str, Any] = {
        "team_id": arrival.team_id,
        "event_id": arrival.event_id,
        "event_type": arrival.event_type[:64],
        "body": arrival.body,
        "bot_user_id": arrival.bot_user_id,
        "received_at": moment,
        "state": InboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": moment,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(InboxEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["team_id", "event_id"])
        .returning(InboxEvent.id)
    )
    return session.execute(statement).first() is not None  # no row back: the key was there


def take(*, session: Session, owner: str, lease: timedelta, limit: int, now: datetime | None = None) -> list[Taken]:
    """Up to `limit` due pending rows, oldest due first, leased to `owner` until `now + lease` (each take counts
    as an attempt). A row another live worker leased is not due; one whose lease ran out is."""
    moment = now or utcnow()
    query = (
        select(InboxEvent)
        .where(
            InboxEvent.state == InboxState.PENDING,
            InboxEvent.next_attempt_at <= moment,
            or_(InboxEvent.lease_expires_at.is_(None), InboxEvent.lease_expires_at < moment),
        )
        .order_by(InboxEvent.next_attempt_at, InboxEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    taken = []
    for row in rows:
        row.lease_owner, row.lease_expires_at, row.attempts = owner, moment + lease, row.attempts + 1
        taken.append(
            Taken(
                id=row.id,
                team_id=row.team_id,
                event_id=row.event_id,
                event_type=row.event_type,
                body=row.body,
                bot_user_id=row.bot_user_id,
                received_at=row.received_at,
                attempts=row.attempts,
            )
        )
    session.flush()
    return taken


def finish(*, session: Session, row_id: int, now: datetime | None = None) -> None:
    """Mark a row done (its change is stored, or there was nothing to change)."""
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == row_id)
        .values(state=InboxState.DONE, finished_at=now or utcnow(), lease_owner=None, lease_expires_at=None)
    )


def retry_at(*, session: Session, row_id: int, owner: str, when: datetime, error: str | None) -> bool:
    """Hand a pending row back, due again at `when`, noting why; False when `owner` no longer holds it."""
    result = session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == row_id, InboxEvent.lease_owner == owner, InboxEvent.state == InboxState.PENDING)
        .values(next_attempt_at=when, lease_owner=None, lease_expires_at=None, last_error=_short(error))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def park(*, session: Session, row_id: int, reason: str, now: datetime | None = None) -> None:
    """Stop trying a row: parked, with its reason, for an operator to see (`paperbot inbox`)."""
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == row_id)
        .values(
            state=InboxState.PARKED,
            finished_at=now or utcnow(),
            lease_owner=None,
            lease_expires_at=None,
            last_error=_short(reason),
        )
    )


def release(*, session: Session, owner: str) -> int:
    """Hand back every pending row `owner` holds (a stopping worker), due at once for any worker."""
    result = session.execute(
        update(InboxEvent)
        .where(InboxEvent.lease_owner == owner, InboxEvent.state == InboxState.PENDING)
        .values(lease_owner=None, lease_expires_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def counts(*, session: Session) -> dict[InboxState, int]:
    """How many rows are in each state (every state named, zero included)."""
    rows = session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)).all()
    found = {state: count for state, count in rows}
    return {state: int(found.get(state, 0)) for state in InboxState}


@dataclass(frozen=True)
class Backlog:
    """What the inbox holds that is not done: pending and parked rows, and when the oldest pending one arrived."""

    pending: int
    parked: int
    oldest_pending: datetime | None


def backlog(*, session: Session) -> Backlog:
    """The inbox's backlog (for the metrics), in three queries on the (state, next_attempt_at) index's state."""
    pending = InboxEvent.state == InboxState.PENDING
    return Backlog(
        pending=int(session.scalar(select(func.count()).where(pending)) or 0),
        parked=int(session.scalar(select(func.count()).where(InboxEvent.state == InboxState.PARKED)) or 0),
        oldest_pending=session.scalar(select(func.min(InboxEvent.received_at)).where(pending)),
    )


def due(*, session: Session, now: datetime | None = None) -> int:
    """How many pending rows are due now, held by a worker or not (rows waiting for a later try are not)."""
    query = select(func.count()).where(
        InboxEvent.state == InboxState.PENDING, InboxEvent.next_attempt_at <= (now or utcnow())
    )
    return int(session.scalar(query) or 0)


def parked(*, session: Session, limit: int = 50) -> list[InboxEvent]:
    """The parked rows, newest first."""
    query = select(InboxEvent).where(InboxEvent.state == InboxState.PARKED).order_by(InboxEvent.id.desc())
    return list(session.scalars(query.limit(limit)).all())


def prune(*, session: Session, before: datetime) -> int:
    """Delete done rows finished before `before`; parked rows stay until someone looks at them."""
    result = session.execute(
        delete(InboxEvent).where(InboxEvent.state == InboxState.DONE, InboxEvent.finished_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _short(text: str | None) -> str | None:
    return None if text is None else text[:ERROR_LENGTH]
