"""The digest schedule: APScheduler 3 inside `paperbot serve`, with its jobs in our own database.

One cron job per channel (id `digest:<team>:<channel>`) at the channel's digest time in its IANA time zone, so
DST is handled by the trigger, on the local days that post every weekday list once (bot.choose.digest_weekdays;
every day if the channel wants weekend lists). Around DST changes those days can still skip a list (the gap to New
York shifts by an hour in the weeks only one of the two zones is on DST), so a fire also catches up: it posts,
oldest first, every wanted list since the channel's newest run (bot.choose.pending_days, at most a week back).
Jobs live in the SQLAlchemyJobStore (table `apscheduler_jobs`), so several replicas share them; when two replicas
fire the same job, the digest's claim (storage.digests) lets exactly one of them post each list.

The job context is STYLE rule 6's one deliberate exception: stored jobs are pickled by reference with
serialisable arguments (team and channel ids), so they cannot carry the settings, sessions and Slack client.
`start_scheduler` installs them once per process in `_context`, and the job functions read them from there.

Half-posted digests are resumed by every replica's scan (at start and with every settings sync): a run still
`claimed` gets a one-off resume job at once if its claim was released, else just after its lease would expire.
A `busy` answer (another worker holds the run) is retried the same way. `install_stop_handlers` makes SIGTERM
and SIGINT stop running digests between two posts, releasing their claims, before the process exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.alert_runner import run_alerts
from bot.choose import Prefs, digest_weekdays, newest_day, pending_days, prefs_for
from bot.config import Settings, parse_clock
from bot.deps import Deps, make_client
from bot.digest import DigestContext, DigestStatus, load_prefs, request_stop, run_digest
from bot.digest.context import new_worker_id
from bot.installs import token_alive, uninstall
from bot.recap import run_recap
from bot.recap_schedule import RECAP_PREFIX, queue_recap_resumes, recap_job_id, sync_channel_jobs, sync_recaps
from bot.recap_schedule import RESUME_PREFIX as RECAP_RESUME_PREFIX
from bot.reconcile import reconcile
from bot.reconcile import request_stop as stop_reconciling
from storage.channels import digest_channels, digest_turned_off
from storage.digests import LEASE, aware, latest_run_day, unfinished_runs
from storage.models import utcnow
from storage.text import first_line

log = logging.getLogger(__name__)

JOB_PREFIX = "digest:"
SYNC_JOB = "paperbot:sync-digest-jobs"
LOCAL = "local"  # the per-process job store
SYNC_EVERY = timedelta(minutes=5)
STOP_WITHIN = 10.0  # seconds from SIGTERM/SIGINT to the end of the process, at most
MISFIRE_GRACE = 3600  # a replica that was down at 09:00 still posts if it is back by 10:00
RETRY_EVERY = timedelta(minutes=15)  # while the day's HF list is not out yet...
RETRY_WINDOW = timedelta(hours=3)  # ...for at most this long, then skip quietly or post "no papers today"
RESUME_WITHIN = timedelta(days=1)  # half-posted runs claimed this recently are resumed; older ones are stale news
RESUME_MARGIN = timedelta(seconds=30)
RESUME_PREFIX = "resume:"


@dataclass
class JobContext:
    """What scheduled jobs need beyond `Deps`: the scheduler, the digest's Slack client, and `default_team`, the
    team of PAPERBOT_DIGEST_CHANNEL (from auth.test)."""

    deps: Deps
    client: WebClient
    scheduler: BackgroundScheduler
    default_team: str | None = None
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] | None = None

    @property
    def settings(self) -> Settings:
        """The process's settings."""
        return self.deps.settings

    def client_for(self, team_id: str) -> WebClient | None:
        """The digest's client for workspace `team_id`: the one of SLACK_BOT_TOKEN, or (OAuth installs) one with
        the workspace's own token; None when the workspace has uninstalled the app."""
        installs = self.deps.installs
        if installs is None:
            return self.client
        token = installs.token(team_id)
        if not token:
            return None
        client = make_client(self.settings, token, idempotent_only=True)
        if not token_alive(client):  # the app_uninstalled event never came (or was lost): the same as one now
            uninstall(self.settings, self.sessions, installs, team_id)
            return None
        return client

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The process's session factory."""
        return self.deps.sessions


_context: JobContext | None = None


def install_context(context: JobContext | None) -> None:
    """Set (or clear) this process's job context; see the module docstring for why it is module-level."""
    global _context
    _context = context


def job_id(team_id: str, channel_id: str) -> str:
    """The explicit id of a channel's digest job: `job_id("T1", "C1") == "digest:T1:C1"`."""
    return f"{JOB_PREFIX}{team_id}:{channel_id}"


def make_trigger(prefs: Prefs) -> CronTrigger:
    """At the channel's digest time in its own time zone, on the local days that post every wanted list once
    (bot.choose.digest_weekdays: every day with weekend lists, else e.g. Monday to Friday in London but Monday and
    Wednesday to Saturday in Tokyo, where a morning is the previous evening in New York)."""
    clock = parse_clock(prefs.digest_time)
    return CronTrigger(
        day_of_week=digest_weekdays(prefs), hour=clock.hour, minute=clock.minute, timezone=ZoneInfo(prefs.timezone)
    )


def next_digest_at(prefs: Prefs, now: datetime) -> datetime | None:
    """When the channel's digest fires next after `now` (aware), in the channel's own time zone: computed from
    its trigger alone, as the scheduler would fire it (None when it never would)."""
    when: datetime | None = make_trigger(prefs).get_next_fire_time(None, now)
    return when


def same_trigger(old: object, new: CronTrigger) -> bool:
    """True when a stored trigger fires exactly like `new`: same cron fields *and* time zone.

    `str(trigger)` leaves out the zone, so a channel moving from 09:00 Berlin to 09:00 Tokyo looked unchanged.
    """
    return (
        isinstance(old, CronTrigger)
        and [str(f) for f in old.fields] == [str(f) for f in new.fields]
        and str(old.timezone) == str(new.timezone)
    )


def build_scheduler(engine: Engine) -> BackgroundScheduler:
    """A scheduler whose jobs live in our database, with coalescing and a misfire grace period."""
    return BackgroundScheduler(
        # One-off retries and the settings sync stay in each process's memory: APScheduler 3 does not coordinate
        # replicas, and two of them removing the same finished one-off job from a shared store would crash one
        # scheduler thread. The daily cron jobs are shared; replicas firing them both is what the claim is for.
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs"), LOCAL: MemoryJobStore()},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE, "max_instances": 1},
        timezone=ZoneInfo("UTC"),
    )


def wanted_jobs(context: JobContext) -> dict[str, tuple[str, str, Prefs]]:
    """Job id → (team, channel, prefs) for every digest-enabled channel and PAPERBOT_DIGEST_CHANNEL."""
    settings, wanted, team, default = context.settings, {}, context.default_team, context.settings.digest_channel
    # Asked before the transaction: the installation store has connections of its own (SQLite: one writer).
    installs = context.deps.installs
    installed = set(installs.teams()) if installs is not None else None
    with context.sessions.begin() as session:
        configured = {(c.team_id, c.channel_id): c for c in digest_channels(session=session)}
        for (team_id, channel_id), channel in configured.items():
            if installed is not None and team_id not in installed:  # uninstalled: the rows stay, not the digest
                continue
            prefs = prefs_for(channel, settings=settings, team_id=team_id, channel_id=channel_id)
            wanted[job_id(team_id, channel_id)] = (team_id, channel_id, prefs)
        # `/papers config digest off` in PAPERBOT_DIGEST_CHANNEL stores a row that turns the default off.
        default_off = bool(default and team and digest_turned_off(session=session, team_id=team, channel_id=default))
    if default and team and (team, default) not in configured and not default_off:
        digest_ctx = DigestContext(deps=context.deps)
        prefs = load_prefs(digest_ctx, team_id=team, channel_id=default)
        wanted[job_id(team, default)] = (team, default, prefs)
    return wanted


def sync_jobs(scheduler: BackgroundScheduler, context: JobContext) -> list[str]:
    """Make the stored jobs match the channels: add new ones, re-time changed ones, drop removed ones.

    Unchanged jobs are left alone: replacing them would recompute their next run and could skip a digest
    that is due right now."""
    wanted = {jid: (team, channel, make_trigger(prefs)) for jid, (team, channel, prefs) in wanted_jobs(context).items()}
    return sync_channel_jobs(
        scheduler, wanted, prefix=JOB_PREFIX, job=run_scheduled_digest, what="digest", same_trigger=same_trigger
    )


def queue_resumes(scheduler: BackgroundScheduler, context: JobContext) -> list[str]:
    """Queue a one-off resume for every recent half-posted run: at once if released, else when its lease ends."""
    now = context.clock()
    with context.sessions.begin() as session:
        pending = [
            (r.team_id, r.channel_id, r.digest_date, r.released, aware(r.heartbeat_at))
            for r in unfinished_runs(session=session, since=now - RESUME_WITHIN)
        ]
    queued = []
    for team, channel_id, day, released, beat in pending:
        when = now if released else max(now, beat + LEASE + RESUME_MARGIN)
        jid = f"{RESUME_PREFIX}{team}:{channel_id}:{day.isoformat()}"
        scheduler.add_job(
            run_scheduled_digest,
            "date",
            run_date=when,
            id=jid,
            replace_existing=True,
            jobstore=LOCAL,
            args=[team, channel_id, day.isoformat()],
            misfire_grace_time=None,
        )
        queued.append(jid)
    return queued


def install_stop_handlers(also: Callable[[], None] | None = None) -> None:
    """SIGTERM/SIGINT: running digests stop between two posts and release their claims, a running reconciliation
    after its current post, `also` is called (it must only set flags), then we exit, within STOP_WITHIN seconds
    whatever is still waiting for the database."""

    def on_signal(signum: int, _frame: object) -> None:
        request_stop()
        stop_reconciling()
        if also is not None:
            also()
        log.info("paperbot stopped (%s)", signal.Signals(signum).name)
        _exit_within(STOP_WITHIN, 128 + signum)
        # The scheduler's worker threads are joined at exit, so each running digest releases its claim first.
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def _exit_within(seconds: float, code: int) -> None:
    """End the process after `seconds` even if a thread still waits (a digest or an inbox worker on a database
    that does not answer). Safe: a digest's claim and an inbox row's lease run out, and another process takes
    them over, as after a crash; nothing acknowledged is lost (it is in the inbox)."""

    def exit_now() -> None:
        log.warning("paperbot: threads still busy %.0f s after the stop signal; exiting anyway", seconds)
        logging.shutdown()
        os._exit(code)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()


def start_scheduler(*, deps: Deps, client: WebClient, start_paused: bool = False) -> BackgroundScheduler:
    """Start the digest scheduler in a background thread (inside `paperbot serve`)."""
    settings = deps.settings
    scheduler = build_scheduler(deps.engine)
    team = None
    if settings.digest_channel and deps.installs is None:
        team = str(client.auth_test()["team_id"])
    elif settings.digest_channel:
        log.warning("PAPERBOT_DIGEST_CHANNEL is ignored with OAuth installs: each workspace sets its channels")
    # The digest's own client never re-sends a message blindly (bot.digest explains why).
    context = JobContext(
        deps=deps,
        scheduler=scheduler,
        default_team=team,
        client=make_client(settings, client.token, idempotent_only=True),
    )
    install_context(context)
    scheduler.start(paused=start_paused)
    jobs = sync_jobs(scheduler, context)
    queue_resumes(scheduler, context)
    sync_recap_jobs(context)
    # Channel settings change through Slack on any replica; every replica re-reads them now and then.
    scheduler.add_job(
        resync_jobs,
        "interval",
        seconds=int(SYNC_EVERY.total_seconds()),
        id=SYNC_JOB,
        replace_existing=True,
        jobstore=LOCAL,
    )
    schedule_alerts(scheduler, settings)
    schedule_reconcile(scheduler, settings, now=context.clock())
    log.info("digest scheduler started with %d channel job(s)", len(jobs))
    log_next_digests(scheduler, jobs)
    return scheduler


def log_next_digests(scheduler: BackgroundScheduler, job_ids: list[str]) -> None:
    """One line per channel at start, so an operator sees when each digest comes, in the channel's own zone."""
    for jid in job_ids:
        job = scheduler.get_job(jid)
        if job is None:  # another replica dropped it a moment ago
            continue
        team_id, channel_id = job.args[:2]
        when = job.next_run_time
        if when is None:
            log.info("digest for channel %s (team %s) is paused", channel_id, team_id)
            continue
        zone = job.trigger.timezone
        log.info(
            "next digest for channel %s (team %s): %s %s",
            channel_id,
            team_id,
            f"{when.astimezone(zone):%a %Y-%m-%d %H:%M}",
            zone,
        )


# The jobs of one workspace: digests, recaps and their resumes (job ids `<prefix><team>:<channel>…`).
TEAM_JOB_PREFIXES = (JOB_PREFIX, RESUME_PREFIX, RECAP_PREFIX, RECAP_RESUME_PREFIX)


def forget_team(team_id: str) -> list[str]:
    """Remove workspace `team_id`'s digest jobs (it uninstalled the app) from this process's scheduler, if one
    runs; other replicas drop theirs at their next resync or when one fires. The ids removed."""
    if _context is None:
        return []
    removed = []
    for job in _context.scheduler.get_jobs():
        if job.id.startswith(tuple(f"{prefix}{team_id}:" for prefix in TEAM_JOB_PREFIXES)):
            with suppress(JobLookupError):
                job.remove()
                removed.append(job.id)
    return removed


def resync_jobs() -> None:
    """Job: re-read the channels' digest settings and update the schedule."""
    context = _require_context()
    sync_jobs(context.scheduler, context)
    queue_resumes(context.scheduler, context)
    sync_recap_jobs(context)


def _require_context() -> JobContext:
    if _context is None:
        raise RuntimeError("the digest scheduler's job context is not installed (start_scheduler does it)")
    return _context


# A scheduled run goes on to the next pending list after these (its status: the first of them that happened);
# anything else stops it and is its status.
CARRY_ON = (DigestStatus.POSTED, DigestStatus.RESUMED, DigestStatus.EMPTY, DigestStatus.ALREADY_DONE)


def run_scheduled_digest(
    team_id: str, channel_id: str, day_iso: str | None = None, first_try_iso: str | None = None
) -> str:
    """Job: post the channel's pending digests oldest first (a list its fire days skipped is caught up); while
    the newest list is not out, try again every 15 min for 3 h. A retry or resume job (`day_iso`) posts that day."""
    context = _require_context()
    now = context.clock()
    client = context.client_for(team_id)
    if client is None:
        forget_team(team_id)
        return f"workspace {team_id} uninstalled paperbot: its digest jobs are removed"
    digest_ctx = DigestContext(deps=context.deps, client=client, clock=context.clock)
    if context.sleep is not None:
        digest_ctx.sleep = context.sleep
    prefs = load_prefs(digest_ctx, team_id=team_id, channel_id=channel_id)
    days = [date.fromisoformat(day_iso)] if day_iso else _pending(context, prefs, now)
    first = datetime.fromisoformat(first_try_iso) if first_try_iso else now
    statuses = []
    for day in days:
        statuses.append(_run_day(context, digest_ctx, prefs, day=day, now=now, first=first))
        # A list that failed or is not out yet is retried on its own; later ones wait for the next fire, so
        # the channel never gets them out of order.
        if statuses[-1] not in CARRY_ON:
            return statuses[-1]
    return next((s for s in CARRY_ON if s in statuses), DigestStatus.ALREADY_DONE)


def _pending(context: JobContext, prefs: Prefs, now: datetime) -> list[date]:
    """The days a regular fire posts (bot.choose.pending_days); the newest again when it already has a run, so a
    half-posted digest is resumed and a repeated fire answers `already_done`."""
    newest = newest_day(now, prefs)
    with context.sessions.begin() as session:
        last = latest_run_day(session=session, team_id=prefs.team_id, channel_id=prefs.channel_id, until=newest)
    return pending_days(now, prefs, last) or [newest]


def _run_day(
    context: JobContext, digest_ctx: DigestContext, prefs: Prefs, *, day: date, now: datetime, first: datetime
) -> str:
    """Post one day's digest; schedule this day's retry when it may work later."""
    team_id, channel_id = prefs.team_id, prefs.channel_id
    final = now + RETRY_EVERY > first + RETRY_WINDOW
    # A list older than the newest complete one (caught up) is long complete: empty means empty, not "not out yet".
    give_up = final or day < newest_day(now, prefs)
    # Scheduled runs never retry a run that failed for good: that needs an operator (e.g. /invite the bot).
    outcome = run_digest(
        digest_ctx, team_id=team_id, channel_id=channel_id, day=day, retry_failed=False, give_up=give_up
    )
    # Busy: another worker holds the run; if it died, its lease ends at retry_at (not bound by the window).
    retry_at = outcome.retry_at if outcome.status == DigestStatus.BUSY else None if final else now + RETRY_EVERY
    if outcome.retryable and retry_at is not None:
        context.scheduler.add_job(
            run_scheduled_digest,
            "date",
            run_date=retry_at,
            id=f"{job_id(team_id, channel_id)}:retry",
            replace_existing=True,
            jobstore=LOCAL,
            args=[team_id, channel_id, day.isoformat(), first.isoformat()],
        )
    log.log(
        logging.ERROR if outcome.status == DigestStatus.FAILED else logging.INFO,
        "scheduled digest %s/%s: %s",
        team_id,
        channel_id,
        outcome.message,
    )
    return outcome.status


# ---- personal alerts (bot.alerts): every replica checks now and then; the per-person claim sends each DM once ----

ALERTS_JOB = "paperbot:alerts"


def schedule_alerts(scheduler: BackgroundScheduler, settings: Settings) -> None:
    """Check every `alerts_every_minutes` whether the day's alert DMs are due (0: alerts off)."""
    if settings.alerts_every_minutes > 0:
        scheduler.add_job(
            run_alerts_job,
            "interval",
            minutes=settings.alerts_every_minutes,
            id=ALERTS_JOB,
            replace_existing=True,
            jobstore=LOCAL,
        )


def run_alerts_job() -> str:
    """Job: send the day's personal alert DMs that are not sent yet; what it did, for the log."""
    context = _require_context()
    clients = context.client if context.deps.installs is None else context.client_for
    report = run_alerts(context.deps, clients, worker=new_worker_id(), clock=context.clock)
    return report.note or f"{report.sent} sent, {report.empty} without matches, {report.failed} failed"


# ---- catch-up from Slack (bot.reconcile): at start, then every few minutes, in each replica; idempotent ----------

RECONCILE_JOB = "paperbot:reconcile"
RECONCILE_AFTER_START = timedelta(seconds=10)  # the first run waits for the bot to be serving


def schedule_reconcile(scheduler: BackgroundScheduler, settings: Settings, *, now: datetime) -> None:
    """Reconcile recent paper posts with Slack just after start and every `reconcile_every_minutes` (0: never in
    `serve`)."""
    if settings.reconcile_every_minutes > 0:
        scheduler.add_job(
            run_reconcile_job,
            "interval",
            minutes=settings.reconcile_every_minutes,
            next_run_time=now + RECONCILE_AFTER_START,
            id=RECONCILE_JOB,
            replace_existing=True,
            jobstore=LOCAL,
            misfire_grace_time=None,
        )


def run_reconcile_job() -> str:
    """Job: catch up the reactions and replies of recent paper posts from Slack; its summary, for the log."""
    context = _require_context()
    installs = context.deps.installs
    try:
        if installs is None:
            return reconcile(context.deps, token=context.client.token, now=context.clock).summary()
        teams = installs.teams()
        return (
            "; ".join(
                f"{team}: " + reconcile(context.deps, token=installs.token(team), now=context.clock).summary()
                for team in teams
            )
            or "no workspace has installed paperbot yet"
        )
    except (OperationalError, InterfaceError) as exc:  # the database is away: the next run catches up
        log.warning("reconciliation: the database did not answer (%s); the next run catches up", first_line(exc))
        return "reconciliation skipped: the database did not answer"
    except (SlackApiError, SlackClientError) as exc:  # Slack down or refusing for longer than the retries
        log.warning("reconciliation stopped: Slack did not answer (%s); the next run resumes", first_line(exc))
        return "reconciliation stopped: Slack did not answer"


# ---- weekly recaps (bot.recap): one cron job per channel with a recap; the recap's claim posts each week once ----


def sync_recap_jobs(context: JobContext) -> list[str]:
    """Make the recap jobs match the channels and queue a resume for every half-posted recap."""
    scheduler, sessions = context.scheduler, context.sessions
    installs = context.deps.installs
    jobs = sync_recaps(
        scheduler,
        sessions,
        context.settings,
        job=run_scheduled_recap,
        same_trigger=same_trigger,
        installed=set(installs.teams()) if installs is not None else None,
    )
    queue_recap_resumes(scheduler, sessions, context.clock(), job=run_scheduled_recap, jobstore=LOCAL)
    return jobs


def run_scheduled_recap(team_id: str, channel_id: str, week_iso: str | None = None) -> str:
    """Job: post the channel's weekly recap (a resume job names the week by its Monday); while another worker
    holds it, look again when that worker's claim would expire."""
    context = _require_context()
    client = context.client_for(team_id)
    if client is None:
        forget_team(team_id)
        return f"workspace {team_id} uninstalled paperbot: its recap jobs are removed"
    recap_ctx = DigestContext(deps=context.deps, client=client, clock=context.clock)
    monday = date.fromisoformat(week_iso) if week_iso else None
    outcome = run_recap(recap_ctx, team_id=team_id, channel_id=channel_id, monday=monday)
    if outcome.status == DigestStatus.BUSY and outcome.retry_at is not None and outcome.day is not None:
        context.scheduler.add_job(
            run_scheduled_recap,
            "date",
            run_date=outcome.retry_at,
            id=f"{recap_job_id(team_id, channel_id)}:retry",
            replace_existing=True,
            jobstore=LOCAL,
            args=[team_id, channel_id, outcome.day.isoformat()],
        )
    level = logging.ERROR if outcome.status == DigestStatus.FAILED else logging.INFO
    said = f"{outcome.note} {outcome.message}" if outcome.note else outcome.message
    log.log(level, "scheduled recap %s/%s: %s", team_id, channel_id, said)
    return outcome.status
