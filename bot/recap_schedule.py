"""When weekly recaps run: one cron job per channel with a recap (id `recap:<team>:<channel>`) at its day and
time in the channel's own time zone, and a one-off resume job for every recap run a worker left half-posted.

The jobs live in the scheduler's shared store like the digest's; when replicas fire the same job, the recap's
claim (bot.recap) lets one of them post. The job function itself is bot.scheduler.run_scheduled_recap (it reads
the process's job context); this module only decides which jobs exist and when they fire.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.choose import prefs_for
from bot.config import Settings, parse_clock
from storage.channels import recap_channels
from storage.digests import LEASE, aware, unfinished_runs
from storage.states import RunKind

RECAP_PREFIX = "recap:"
RESUME_PREFIX = "resume-recap:"
RESUME_WITHIN = timedelta(days=7)  # a half-posted recap is finished within its week's turn
RESUME_MARGIN = timedelta(seconds=30)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def recap_job_id(team_id: str, channel_id: str) -> str:
    """`recap_job_id("T1", "C1") == "recap:T1:C1"`."""
    return f"{RECAP_PREFIX}{team_id}:{channel_id}"


def recap_trigger(day: int, at: str, zone: str) -> CronTrigger:
    """Every week on `day` (0 = Monday) at `at` (HH:MM) in the IANA zone `zone`."""
    clock = parse_clock(at)
    return CronTrigger(day_of_week=DAY_NAMES[day], hour=clock.hour, minute=clock.minute, timezone=ZoneInfo(zone))


def wanted_recaps(sessions: sessionmaker[Session], settings: Settings) -> dict[str, tuple[str, str, CronTrigger]]:
    """Job id → (team, channel, trigger) for every channel with a weekly recap."""
    wanted = {}
    with sessions.begin() as session:
        for channel in recap_channels(session=session):
            assert channel.recap_day is not None and channel.recap_time is not None
            zone = prefs_for(
                channel, settings=settings, team_id=channel.team_id, channel_id=channel.channel_id
            ).timezone
            trigger = recap_trigger(channel.recap_day, channel.recap_time, zone)
            wanted[recap_job_id(channel.team_id, channel.channel_id)] = (channel.team_id, channel.channel_id, trigger)
    return wanted


def sync_recaps(
    scheduler: BaseScheduler,
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    job: Callable[..., Any],
    same_trigger: Callable[[object, CronTrigger], bool],
    installed: set[str] | None = None,
) -> list[str]:
    """Make the stored recap jobs match the channels (add, re-time, drop); unchanged jobs are left alone
    (`same_trigger` tells, as for the digest's jobs: bot.scheduler.same_trigger). With `installed` (OAuth
    installs), only those workspaces' channels get a recap."""
    wanted = {
        jid: job for jid, job in wanted_recaps(sessions, settings).items() if installed is None or job[0] in installed
    }
    return sync_channel_jobs(scheduler, wanted, prefix=RECAP_PREFIX, job=job, what="recap", same_trigger=same_trigger)


def sync_channel_jobs(
    scheduler: BaseScheduler,
    wanted: dict[str, tuple[str, str, CronTrigger]],
    *,
    prefix: str,
    job: Callable[..., Any],
    what: str,
    same_trigger: Callable[[object, CronTrigger], bool],
) -> list[str]:
    """Make the stored jobs of one kind (ids starting with `prefix`: the digest's or the recap's) match `wanted`
    (job id → team, channel, trigger): add new ones, re-time changed ones, drop the rest (their retries too).
    Unchanged jobs are left alone: replacing one would recompute its next run and could skip one due now."""
    for jid, (team, channel_id, trigger) in wanted.items():
        current = scheduler.get_job(jid)
        if current is None:  # replace_existing: another replica adding it a moment ago is harmless
            scheduler.add_job(
                job,
                trigger,
                args=[team, channel_id],
                id=jid,
                name=f"{what} of {team}/{channel_id}",
                replace_existing=True,
            )
        elif not same_trigger(current.trigger, trigger):
            scheduler.reschedule_job(jid, trigger=trigger)
    for stored in scheduler.get_jobs():
        if stored.id.startswith(prefix) and stored.id.split(":retry")[0] not in wanted:
            with suppress(JobLookupError):  # another replica removed it first
                stored.remove()
    return sorted(wanted)


def queue_recap_resumes(
    scheduler: BaseScheduler, sessions: sessionmaker[Session], now: datetime, *, job: Callable[..., Any], jobstore: str
) -> list[str]:
    """A one-off job for every recent half-posted recap: at once if released, else when its lease ends."""
    with sessions.begin() as session:
        pending = [
            (r.team_id, r.channel_id, r.digest_date, r.released, aware(r.heartbeat_at))
            for r in unfinished_runs(session=session, since=now - RESUME_WITHIN, kind=RunKind.RECAP)
        ]
    queued = []
    for team, channel_id, monday, released, beat in pending:
        jid = f"{RESUME_PREFIX}{team}:{channel_id}:{monday.isoformat()}"
        scheduler.add_job(
            job,
            "date",
            run_date=now if released else max(now, beat + LEASE + RESUME_MARGIN),
            id=jid,
            replace_existing=True,
            jobstore=jobstore,
            args=[team, channel_id, monday.isoformat()],
            misfire_grace_time=None,
        )
        queued.append(jid)
    return queued
