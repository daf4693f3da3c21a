"""Personal alerts: people's subscriptions, and the claim that sends each person's DM of a day exactly once.

A subscription is unique per person and canonical text, compared without case: subscribing twice to the same
thing is one subscription. People see their subscriptions numbered in creation order, and remove them by number.

An alert is claimed by INSERTing its (team, user, day) row, as storage.digests claims a digest: the primary key lets
exactly one worker win on SQLite and PostgreSQL alike. A claim whose heartbeat is older than the lease belongs to a
dead worker (or to this worker's own earlier attempt) and is taken over with a compare-and-swap UPDATE, so two
rescuers cannot both win; the rescuer must look for the DM its predecessor may have sent before sending it again.
Callers own the transaction and must commit a claim before sending anything (nothing here commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.digests import LEASE, aware
from storage.models import AlertRun, Subscription, utcnow

FINISHED = ("sent", "empty")


@dataclass(frozen=True)
class Added:
    """What subscribing did: the subscription, its number in the person's list, and whether it is new."""

    subscription: Subscription
    number: int
    created: bool


@dataclass(frozen=True)
class Subscriber:
    """One person with subscriptions, and those subscriptions in creation order."""

    team_id: str
    user_id: str
    subscriptions: list[Subscription] = field(default_factory=list)


@dataclass(frozen=True)
class AlertClaim:
    """What claiming an alert found: `claimed` (new), `resumed` (taken over: look for a sent DM first), `done`
    (sent, or nothing matched), `busy` (another live worker holds it) or `failed` (failed for the day)."""

    outcome: str
    run: AlertRun

    @property
    def ours(self) -> bool:
        """Whether this worker now holds the claim and may send."""
        return self.outcome in ("claimed", "resumed")


def _utc(now: datetime | None) -> datetime:
    # SQLite keeps the wall-clock digits and drops the offset: a non-UTC `now` would be read back shifted.
    return aware(now).astimezone(UTC) if now is not None else utcnow()


# ---- subscriptions ---------------------------------------------------------------------------------------


def list_subscriptions(*, session: Session, team_id: str, user_id: str) -> list[Subscription]:
    """The person's subscriptions in creation order (number n is item n - 1)."""
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.team_id == team_id, Subscription.user_id == user_id)
            .order_by(Subscription.created_at, Subscription.id)
        )
    )


def count_subscriptions(*, session: Session, team_id: str, user_id: str) -> int:
    """How many subscriptions the person has."""
    query = select(func.count()).where(Subscription.team_id == team_id, Subscription.user_id == user_id)
    return session.scalar(query) or 0


def add_subscription(
    *, session: Session, team_id: str, user_id: str, text: str, filters: dict[str, Any], now: datetime | None = None
) -> Added:
    """Store a subscription; the same text again (in any case) is the existing one, reported as not created."""
    existing = _same_text(session, team_id, user_id, text)
    if existing is None:
        try:
            with session.begin_nested():
                existing = Subscription(
                    team_id=team_id, user_id=user_id, text=text, filters=dict(filters), created_at=_utc(now)
                )
                session.add(existing)
            created = True
        except IntegrityError:  # the same text stored by a concurrent request a moment ago
            existing, created = _same_text(session, team_id, user_id, text), False
            assert existing is not None, "the unique key said this subscription exists"
    else:
        created = False
    numbers = [s.id for s in list_subscriptions(session=session, team_id=team_id, user_id=user_id)]
    return Added(existing, numbers.index(existing.id) + 1, created)


def _same_text(session: Session, team_id: str, user_id: str, text: str) -> Subscription | None:
    return session.scalars(
        select(Subscription)
        .where(
            Subscription.team_id == team_id,
            Subscription.user_id == user_id,
            func.lower(Subscription.text) == text.lower(),
        )
        .order_by(Subscription.id)
        .limit(1)
    ).first()


def remove_subscriptions(*, session: Session, team_id: str, user_id: str, numbers: Sequence[int]) -> list[str]:
    """Remove the subscriptions with these list numbers (as `list_subscriptions` numbers them); their texts.
    Numbers past the end are ignored: the caller checks them against the list it showed."""
    current = list_subscriptions(session=session, team_id=team_id, user_id=user_id)
    chosen = [current[n - 1] for n in sorted(set(numbers)) if 1 <= n <= len(current)]
    if chosen:
        session.execute(delete(Subscription).where(Subscription.id.in_([s.id for s in chosen])))
    return [s.text for s in chosen]


def remove_all_subscriptions(*, session: Session, team_id: str, user_id: str) -> int:
    """Remove every subscription of the person; how many there were."""
    result = session.execute(
        delete(Subscription).where(Subscription.team_id == team_id, Subscription.user_id == user_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def subscribers(*, session: Session) -> list[Subscriber]:
    """Everyone with at least one subscription, by team and user, each with their subscriptions in order."""
    rows = session.scalars(
        select(Subscription).order_by(
            Subscription.team_id, Subscription.user_id, Subscription.created_at, Subscription.id
        )
    )
    people: dict[tuple[str, str], Subscriber] = {}
    for row in rows:
        key = (row.team_id, row.user_id)
        people.setdefault(key, Subscriber(*key)).subscriptions.append(row)
    return list(people.values())


# ---- alert runs ------------------------------------------------------------------------------------------


def get_alert(*, session: Session, team_id: str, user_id: str, day: date) -> AlertRun | None:
    """The person's alert run of `day`, if any (read afresh from the database)."""
    return session.get(AlertRun, (team_id, user_id, day), populate_existing=True)


def alert_statuses(*, session: Session, day: date) -> dict[tuple[str, str], str]:
    """(team, user) -> status of every alert run of `day`: who needs no claim attempt any more."""
    rows = session.execute(select(AlertRun.team_id, AlertRun.user_id, AlertRun.status).where(AlertRun.day == day))
    return {(team, user): status for team, user, status in rows}


def claim_alert(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    day: date,
    worker: str,
    now: datetime | None = None,
    lease: timedelta = LEASE,
) -> AlertClaim:
    """Claim the person's alert of `day` for `worker`: insert it, or take over a stale (or our own) claim."""
    now = _utc(now)
    try:
        with session.begin_nested():
            run = AlertRun(
                team_id=team_id,
                user_id=user_id,
                day=day,
                status="claimed",
                worker=worker,
                claimed_at=now,
                heartbeat_at=now,
            )
            session.add(run)
        return AlertClaim("claimed", run)
    except IntegrityError:
        pass
    existing = get_alert(session=session, team_id=team_id, user_id=user_id, day=day)
    assert existing is not None, "the primary key said this run exists"
    if existing.status in FINISHED:
        return AlertClaim("done", existing)
    if existing.status == "failed":
        return AlertClaim("failed", existing)
    if existing.worker != worker and now - aware(existing.heartbeat_at) < lease:
        return AlertClaim("busy", existing)
    # Compare-and-swap on what we read: if anyone changed the claim meanwhile, no row matches and we lose.
    result = session.execute(
        update(AlertRun)
        .where(
            AlertRun.team_id == team_id,
            AlertRun.user_id == user_id,
            AlertRun.day == day,
            AlertRun.worker == existing.worker,
            AlertRun.heartbeat_at == existing.heartbeat_at,
            AlertRun.status == "claimed",
        )
        .values(worker=worker, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    current = get_alert(session=session, team_id=team_id, user_id=user_id, day=day)
    assert current is not None
    return AlertClaim("resumed" if result.rowcount == 1 else "busy", current)  # type: ignore[attr-defined]


def _ours(team_id: str, user_id: str, day: date, worker: str) -> tuple[Any, ...]:
    return (
        AlertRun.team_id == team_id,
        AlertRun.user_id == user_id,
        AlertRun.day == day,
        AlertRun.worker == worker,
        AlertRun.status == "claimed",
    )


def alert_heartbeat(
    *, session: Session, team_id: str, user_id: str, day: date, worker: str, now: datetime | None = None
) -> bool:
    """Refresh our claim just before sending; False means another worker took it over and we must not send."""
    result = session.execute(
        update(AlertRun)
        .where(*_ours(team_id, user_id, day, worker))
        .values(heartbeat_at=_utc(now))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_alert(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    day: date,
    worker: str,
    status: str,
    dm_channel: str | None = None,
    ts: str | None = None,
    error: str | None = None,
) -> bool:
    """Mark our claim `sent` (with the DM's channel and ts), `empty` or `failed` (with why); False if it was not
    ours any more."""
    if status not in ("sent", "empty", "failed"):
        raise ValueError(f"an alert run finishes as sent, empty or failed, not {status!r}")
    result = session.execute(
        update(AlertRun)
        .where(*_ours(team_id, user_id, day, worker))
        .values(status=status, dm_channel=dm_channel, ts=ts, error=error[:2000] if error else None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def note_alert_error(*, session: Session, team_id: str, user_id: str, day: date, worker: str, error: str) -> None:
    """Record why our claim is left unfinished (Slack's answer was lost): it is taken over once its lease ends."""
    session.execute(
        update(AlertRun)
        .where(*_ours(team_id, user_id, day, worker))
        .values(error=error[:2000])
        .execution_options(synchronize_session=False)
    )
