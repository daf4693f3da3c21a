"""Digest runs: one claim per (workspace, channel, kind, date), so a digest (or a weekly recap) is posted exactly once.

A run is claimed by INSERTing its row: the unique key (team_id, channel_id, kind, digest_date) lets exactly one
worker win, on SQLite and PostgreSQL alike. The winner keeps a heartbeat; a claim whose heartbeat is older
than the lease belongs to a dead worker and is taken over with a compare-and-swap UPDATE, so two rescuers
cannot both win. A worker that stops on purpose *releases* its claim (the `released` flag): the next attempt
takes it over at once, and heartbeat_at keeps the run's real last activity (resuming bounds its search of the
channel history with it). The same claim serves every kind of run: a channel's daily digest (`digest`, keyed by
the list's date) and its weekly recap (`recap`, keyed by the week's Monday); every function reads one kind.
Callers own the transaction and must commit a claim before posting anything (nothing here commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import DigestRun, utcnow
from storage.rows import get_or_insert
from storage.states import ClaimOutcome, RunKind, RunStatus

LEASE = timedelta(minutes=10)
FINISHED = (RunStatus.DONE, RunStatus.EMPTY)


@dataclass(frozen=True)
class Claim:
    """What claiming found: `claimed` (new run), `resumed` (ours now, with posts to finish), `done`
    (already posted), `busy` (another live worker has it) or `failed` (failed for good; not retried)."""

    outcome: ClaimOutcome
    run: DigestRun
    # The run's last activity before this claim (its previous heartbeat) when it was taken over.
    last_activity: datetime | None = None

    @property
    def ours(self) -> bool:
        return self.outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.RESUMED)


def aware(moment: datetime) -> datetime:
    """`moment` as a UTC-aware datetime (SQLite hands back naive ones; we only ever store UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(now: datetime | None) -> datetime:
    # SQLite stores the wall-clock digits and drops the offset: a non-UTC `now` would be read back shifted.
    return aware(now).astimezone(UTC) if now is not None else utcnow()


def get_run(
    *, session: Session, team_id: str, channel_id: str, day: date, kind: RunKind = RunKind.DIGEST
) -> DigestRun | None:
    """The run of one channel, kind and date, if any."""
    return session.scalars(
        select(DigestRun)
        .where(
            DigestRun.team_id == team_id,
            DigestRun.channel_id == channel_id,
            DigestRun.kind == kind,
            DigestRun.digest_date == day,
        )
        .execution_options(populate_existing=True)
    ).one_or_none()


def last_run(*, session: Session, team_id: str, channel_id: str, kind: RunKind = RunKind.DIGEST) -> DigestRun | None:
    """The channel's most recent run of a kind (by date), if any."""
    return session.scalars(
        select(DigestRun)
        .where(DigestRun.team_id == team_id, DigestRun.channel_id == channel_id, DigestRun.kind == kind)
        .order_by(DigestRun.digest_date.desc())
        .limit(1)
    ).first()


def latest_run_day(*, session: Session, team_id: str, channel_id: str, until: date) -> date | None:
    """The newest day, at most `until`, that the channel has a digest run for (any status): where catching up
    starts."""
    return session.scalar(
        select(func.max(DigestRun.digest_date)).where(
            DigestRun.team_id == team_id,
            DigestRun.channel_id == channel_id,
            DigestRun.kind == RunKind.DIGEST,
            DigestRun.digest_date <= until,
        )
    )


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
    kind: RunKind = RunKind.DIGEST,
) -> Claim:
    """Claim the run of (team, channel, kind, day) for `worker`; `plan` is kept only by a new run."""
    now = _utc(now)
    # The unique key lets exactly one worker insert the run; the others read it and see whose it is.
    existing, created = get_or_insert(
        session,
        DigestRun,
        {"team_id": team_id, "channel_id": channel_id, "kind": kind, "digest_date": day},
        {"status": RunStatus.CLAIMED, "claimed_by": worker, "claimed_at": now, "heartbeat_at": now, "plan": list(plan)},
    )
    if created:
        return Claim(ClaimOutcome.CLAIMED, existing)
    if existing.status in FINISHED:
        return Claim(ClaimOutcome.DONE, existing)
    if existing.status == RunStatus.FAILED and not retry_failed:
        return Claim(ClaimOutcome.FAILED, existing)
    fresh = not existing.released and now - aware(existing.heartbeat_at) < lease
    if existing.status == RunStatus.CLAIMED and existing.claimed_by != worker and fresh:
        return Claim(ClaimOutcome.BUSY, existing)
    return _take_over(session=session, run=existing, worker=worker, now=now)


def _take_over(*, session: Session, run: DigestRun, worker: str, now: datetime) -> Claim:
    last_activity = aware(run.heartbeat_at)
    # Compare-and-swap on what we read: if anyone changed the claim meanwhile, no row matches and we lose.
    result = session.execute(
        update(DigestRun)
        .where(
            DigestRun.id == run.id,
            DigestRun.claimed_by == run.claimed_by,
            DigestRun.heartbeat_at == run.heartbeat_at,
            DigestRun.status == run.status,
            DigestRun.released == run.released,
        )
        .values(claimed_by=worker, heartbeat_at=now, status=RunStatus.CLAIMED, released=False, error=None)
        .execution_options(synchronize_session=False)
    )
    current = get_run(
        session=session, team_id=run.team_id, channel_id=run.channel_id, day=run.digest_date, kind=run.kind
    )
    assert current is not None
    won = result.rowcount == 1  # type: ignore[attr-defined]
    return Claim(ClaimOutcome.RESUMED if won else ClaimOutcome.BUSY, current, last_activity if won else None)


def heartbeat(*, session: Session, run_id: int, worker: str, now: datetime | None = None) -> bool:
    """Refresh the claim; False means another worker took the run over and we must stop posting."""
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker, DigestRun.status == RunStatus.CLAIMED)
        .values(heartbeat_at=_utc(now))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def set_header(*, session: Session, run_id: int, worker: str, ts: str) -> bool:
    """Remember the ts of our run's header message (so a resumed run does not post it again); False if the
    run is not ours any more."""
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker)
        .values(header_ts=ts)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_run(
    *, session: Session, run_id: int, worker: str, status: RunStatus | str = RunStatus.DONE, now: datetime | None = None
) -> bool:
    """Mark our run finished (`done`, or `empty` when nothing matched); False if it was not ours any more."""
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker, DigestRun.status == RunStatus.CLAIMED)
        .values(status=RunStatus(status), finished_at=_utc(now), error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def fail_run(
    *, session: Session, run_id: int, worker: str, error: str, permanent: bool, now: datetime | None = None
) -> None:
    """Record why our run stopped: `permanent` marks it failed (an operator must act, e.g. invite the bot),
    otherwise the claim is released so the next attempt resumes it at once."""
    values: dict[str, object] = {"error": error[:2000]}
    if permanent:
        values.update(status=RunStatus.FAILED, finished_at=_utc(now))
    else:
        values.update(released=True)
    session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.claimed_by == worker, DigestRun.status == RunStatus.CLAIMED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def unfinished_runs(*, session: Session, since: datetime, kind: RunKind = RunKind.DIGEST) -> Sequence[DigestRun]:
    """Runs of a kind claimed since `since` that are still not finished (half-posted, or being posted right now)."""
    return session.scalars(
        select(DigestRun)
        .where(DigestRun.status == RunStatus.CLAIMED, DigestRun.kind == kind, DigestRun.claimed_at >= _utc(since))
        .order_by(DigestRun.claimed_at)
    ).all()
