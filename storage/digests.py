"""Digest runs: one claim per (workspace, channel, date), so a digest is posted exactly once.

A run is claimed by INSERTing its row: the unique key (team_id, channel_id, digest_date) lets exactly one
worker win, on SQLite and PostgreSQL alike. The winner keeps a heartbeat; a claim whose heartbeat is older
than the lease belongs to a dead worker and is taken over with a compare-and-swap UPDATE, so two rescuers
cannot both win.
Callers own the transaction and must commit a claim before posting anything (nothing here commits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import DigestRun, utcnow

LEASE = timedelta(minutes=10)
FINISHED = ("done", "empty")
# A released claim's heartbeat: older than any lease, so the next worker takes the run over at once.
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Claim:
    """What claiming found: `claimed` (new run), `resumed` (ours now, with posts to finish), `done`
    (already posted), `busy` (another live worker has it) or `failed` (failed for good; not retried)."""

    outcome: str
    run: DigestRun

    @property
    def ours(self) -> bool:
        return self.outcome in ("claimed", "resumed")


def aware(moment: datetime) -> datetime:
    """`moment` as a UTC-aware datetime (SQLite hands back naive ones; we only ever store UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def get_run(*, session: Session, team_id: str, channel_id: str, day: date) -> DigestRun | None:
    """The run of one channel and date, if any."""
    return session.scalars(
        select(DigestRun)
        .where(DigestRun.team_id == team_id, DigestRun.channel_id == channel_id, DigestRun.digest_date == day)
        .execution_options(populate_existing=True)
    ).one_or_none()


def last_run(*, session: Session, team_id: str, channel_id: str) -> DigestRun | None:
    """The channel's most recent run (by digest date), if any."""
    return session.scalars(
        select(DigestRun)
        .where(DigestRun.team_id == team_id, DigestRun.channel_id == channel_id)
        .order_by(DigestRun.digest_date.desc())
        .limit(1)
    ).first()


def claim_run(
    *,
    session: Session,
    team_id: str,
    channel_id: str,
    day: date,
    worker: str,
    plan: list[str],
    now: datetime | None = None,
    lease: timedelta = LEASE,
    retry_failed: bool = False,
) -> Claim:
    """Claim the digest of (team, channel, day) for `worker`; `plan` is kept only by a new run."""
    now = now or utcnow()
    try:
        with session.begin_nested():
            run = DigestRun(team_id=team_id, channel_id=channel_id, digest_date=day, status="claimed",
                            claimed_by=worker, claimed_at=now, heartbeat_at=now, plan=list(plan))
            session.add(run)
        return Claim("claimed", run)
    except IntegrityError:
        pass
    existing = get_run(session=session, team_id=team_id, channel_id=channel_id, day=day)
    assert existing is not None, "the unique key said this run exists"
    if existing.status in FINISHED:
        return Claim("done", existing)
    if existing.status == "failed" and not retry_failed:
        return Claim("failed", existing)
    fresh = now - aware(existing.heartbeat_at) < lease
    if existing.status == "claimed" and existing.claimed_by != worker and fresh:
        return Claim("busy", existing)
    return _take_over(session=session, run=existing, worker=worker, now=now)


def _take_over(*, session: Session, run: DigestRun, worker: str, now: datetime) -> Claim:
    # Compare-and-swap on what we read: if anyone changed the claim meanwhile, no row matches and we lose.
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run.id, DigestRun.claimed_by == run.claimed_by,
               DigestRun.heartbeat_at == run.heartbeat_at, DigestRun.status == run.status)
        .values(claimed_by=worker, heartbeat_at=now, status="claimed", error=None)
        .execution_options(synchronize_session=False)
    )
    current = get_run(session=session, team_id=run.team_id, channel_id=run.channel_id, day=run.digest_date)
    assert current is not None
    return Claim("resumed" if result.rowcount == 1 else "busy", current)  # type: ignore[attr-defined]


def heartbeat(*, session: Session, run_id: int, worker: str, now: datetime | None = None) -> bool:
    """Refresh the claim; False means another worker took the run over and we must stop posting."""
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker, DigestRun.status == "claimed")
        .values(heartbeat_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def set_header(*, session: Session, run_id: int, ts: str) -> None:
    """Remember the ts of the run's header message (so a resumed run does not post it again)."""
    session.execute(update(DigestRun).where(DigestRun.id == run_id).values(header_ts=ts)
                    .execution_options(synchronize_session=False))


def finish_run(*, session: Session, run_id: int, worker: str, status: str = "done",
               now: datetime | None = None) -> bool:
    """Mark our run finished (`done`, or `empty` when nothing matched); False if it was not ours any more."""
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker, DigestRun.status == "claimed")
        .values(status=status, finished_at=now or utcnow(), error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def fail_run(*, session: Session, run_id: int, worker: str, error: str, permanent: bool,
             now: datetime | None = None) -> None:
    """Record why our run stopped: `permanent` marks it failed (an operator must act, e.g. invite the bot),
    otherwise the claim is released so the next attempt resumes it at once."""
    values: dict[str, object] = {"error": error[:2000]}
    if permanent:
        values.update(status="failed", finished_at=now or utcnow())
    else:
        values.update(heartbeat_at=RELEASED)
    session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker, DigestRun.status == "claimed")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
