"""Two `paperbot serve` replicas on one database both fire a channel's weekly recap job: one recap reaches Slack.

Like tests/e2e/test_scheduler_replicas.py for the digest: each replica is its own process started with
bot.scheduler.start_scheduler, and the stored recap job is made due now through APScheduler's `modify_job`."""

from __future__ import annotations

import multiprocessing
import queue
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import select

from bot.deps import Deps, make_client
from bot.recap import recap_week, week_window
from bot.recap_schedule import recap_job_id
from bot.scheduler import install_context, start_scheduler
from storage.channels import ensure_workspace, update_channel
from storage.db import make_engine, make_sessions
from storage.models import DigestRun
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from storage.states import RunKind
from tests.bot.test_recap import reply, vote
from tests.fakes.hf import FakeHF
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.running import bot_settings

CHANNEL = "CRECAPS"
JOB = recap_job_id(TEAM_ID, CHANNEL)
REPLICAS = 2


def _replica(db_url: str, slack_url: str, hf_url: str, started: Any, stop: Any, reports: Any) -> None:
    """One replica: start the scheduler as `serve` does, make the channel's stored recap job due, report it."""
    from bot.config import Settings

    settings = Settings(
        _env_file=None, database_url=db_url, slack_bot_token=BOT_TOKEN, slack_api_url=slack_url, hf_api_url=hf_url
    )
    engine = make_engine(settings.database_url)
    scheduler = start_scheduler(
        deps=Deps(settings, engine, make_sessions(engine)), client=make_client(settings, BOT_TOKEN), start_paused=True
    )

    def report(event: JobExecutionEvent) -> None:
        if event.job_id == JOB:
            reports.put(event.retval if event.exception is None else f"error: {event.exception!r}")

    scheduler.add_listener(report, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    started.wait()  # both replicas have started and stored the channel's job
    scheduler.modify_job(JOB, next_run_time=datetime.now(UTC))  # its Friday 17:00, now
    scheduler.resume()
    stop.wait(60)
    scheduler.shutdown()
    install_context(None)
    engine.dispose()


def test_two_replicas_firing_the_same_recap_job_post_one_recap(db_url: str, slack: FakeSlack, hf: FakeHF) -> None:
    slack.ts_base = int(time.time())
    settings = bot_settings(db_url, slack, hf_api_url=hf.url)
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    # Activity early in the week the recap covers when it fires now (this week, or last week on a Monday).
    start, _ = week_window(recap_week(datetime.now(UTC), "UTC"), "UTC")
    when = start + timedelta(hours=1)
    post_ts = f"{when.timestamp():.6f}"
    with sessions.begin() as s:
        ensure_workspace(session=s, team_id=TEAM_ID)
        upsert_papers(session=s, records=[PaperRecord("2611.00001", "Paper A", hf_upvotes=7)])
        record_post(session=s, team_id=TEAM_ID, channel_id=CHANNEL, ts=post_ts, arxiv_id="2611.00001", kind="share")
        vote(s, CHANNEL, post_ts, "2611.00001", "U1", when)
        reply(s, CHANNEL, post_ts, "2611.00001", "U2", when)
        update_channel(
            session=s, team_id=TEAM_ID, channel_id=CHANNEL, recap_day=4, recap_time="17:00", digest_enabled=False
        )
    assert settings.database_url == db_url

    spawn = multiprocessing.get_context("spawn")
    started, stop, reports = spawn.Barrier(REPLICAS), spawn.Event(), spawn.Queue()
    replicas = [
        spawn.Process(target=_replica, args=(db_url, slack.url, hf.url, started, stop, reports))
        for _ in range(REPLICAS)
    ]
    for p in replicas:
        p.start()
    try:
        outcomes = [reports.get(timeout=60)]
        slack.wait_for(lambda: len(slack.posted(CHANNEL)) >= 1, timeout=30)
        with suppress(queue.Empty):  # the other replica fired it too, unless the first had moved it on already
            outcomes.append(reports.get(timeout=10))
    finally:
        stop.set()
        for p in replicas:
            p.join(timeout=30)
    assert [p.exitcode for p in replicas] == [0] * REPLICAS

    assert outcomes.count("posted") == 1, outcomes
    assert set(outcomes) <= {"posted", "busy", "already_done"}, outcomes
    (message,) = slack.posted(CHANNEL)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert "1 paper posted in <#CRECAPS> got 1 vote and 1 reply this week." in message["text"]
    with sessions.begin() as s:
        assert [(r.kind, r.status) for r in s.scalars(select(DigestRun))] == [(RunKind.RECAP, "done")]
    engine.dispose()
