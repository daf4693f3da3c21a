"""Two `paperbot serve` replicas on one database: both run the digest scheduler on the shared job store, both
fire the channel's job, and exactly one digest reaches Slack.

Each replica is its own process (the scheduler's job context is per process, as in production), started with
bot.scheduler.start_scheduler like `serve` does, against the loopback Slack and HF. The stored daily job is made
due now through APScheduler's own API (`modify_job`) instead of waiting for its cron time."""

from __future__ import annotations

import multiprocessing
import queue
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import select

from bot.choose import newest_day
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.digest import DigestContext, load_prefs
from bot.scheduler import install_context, job_id, start_scheduler
from storage.db import make_engine, make_sessions
from storage.models import DigestRun, utcnow
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.running import bot_settings

CHANNEL = "CREPLICAS"
JOB = job_id(TEAM_ID, CHANNEL)
REPLICAS = 2


def replica_settings(db_url: str, slack_url: str, hf_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=db_url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack_url,
        hf_api_url=hf_url,
        digest_channel=CHANNEL,
        digest_size=2,
    )


def _replica(db_url: str, slack_url: str, hf_url: str, started: Any, stop: Any, reports: Any) -> None:
    """One replica: start the scheduler as `serve` does, make the channel's stored job due, report what it ran."""
    settings = replica_settings(db_url, slack_url, hf_url)
    engine = make_engine(settings.database_url)
    scheduler = start_scheduler(
        deps=Deps(settings, engine, make_sessions(engine)),
        client=make_client(settings, BOT_TOKEN),
        start_paused=True,
    )

    def report(event: JobExecutionEvent) -> None:
        if event.job_id == JOB:
            reports.put(event.retval if event.exception is None else f"error: {event.exception!r}")

    scheduler.add_listener(report, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    started.wait()  # both replicas have started and stored the channel's job
    scheduler.modify_job(JOB, next_run_time=datetime.now(UTC))  # its 09:00, now
    scheduler.resume()
    stop.wait(60)
    scheduler.shutdown()  # waits for a running digest
    install_context(None)
    engine.dispose()


def test_two_replicas_firing_the_same_stored_job_post_one_digest(db_url: str, slack: FakeSlack, hf: FakeHF) -> None:
    slack.ts_base = int(time.time())
    settings = bot_settings(db_url, slack, hf_api_url=hf.url, digest_channel=CHANNEL)
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    prefs = load_prefs(DigestContext(deps=Deps.of(settings, sessions)), team_id=TEAM_ID, channel_id=CHANNEL)
    now = utcnow()
    for day in {newest_day(now, prefs), newest_day(now + timedelta(minutes=5), prefs)}:  # midnight-proof
        hf.set_daily(day, [daily_item(f"2411.0200{n}", f"Paper {n}", day, upvotes=10 - n) for n in range(3)])

    spawn = multiprocessing.get_context("spawn")
    started, stop, reports = spawn.Barrier(REPLICAS), spawn.Event(), spawn.Queue()
    replicas = [
        spawn.Process(target=_replica, args=(db_url, slack.url, hf.url, started, stop, reports))
        for _ in range(REPLICAS)
    ]
    for p in replicas:
        p.start()
    try:
        outcomes = [reports.get(timeout=60)]  # the first replica to finish the job (usually the loser: "busy")
        slack.wait_for(lambda: len(slack.posted(CHANNEL)) >= 3, timeout=30)
        with suppress(queue.Empty):  # the other replica fired it too, unless the first had moved it on already
            outcomes.append(reports.get(timeout=10))
    finally:
        stop.set()
        for p in replicas:
            p.join(timeout=30)
    assert [p.exitcode for p in replicas] == [0] * REPLICAS

    assert outcomes.count("posted") == 1, outcomes
    assert set(outcomes) <= {"posted", "busy", "already_done"}, outcomes
    posted = slack.posted(CHANNEL)
    assert len(posted) == 3 and len(slack.calls_to("chat.postMessage")) == 3  # one header, two papers, once
    assert [m["text"][:10] for m in posted[1:]] == ["1. Paper 0", "2. Paper 1"]
    with sessions.begin() as s:
        assert [r.status for r in s.scalars(select(DigestRun))] == ["done"]
    engine.dispose()
