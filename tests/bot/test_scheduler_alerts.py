"""The alert job: every replica checks every PAPERBOT_ALERTS_EVERY_MINUTES from its own memory job store, and a
fired job sends the day's DMs with the process's job context."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts import subscribe
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.scheduler import (
    ALERTS_JOB,
    LOCAL,
    RECONCILE_JOB,
    JobContext,
    install_context,
    run_alerts_job,
    run_reconcile_job,
    start_scheduler,
)
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 24)


def deps_for(db_url: str, sessions: sessionmaker[Session], slack: FakeSlack, **settings: Any) -> Deps:
    values: dict[str, Any] = {"database_url": db_url, "slack_bot_token": BOT_TOKEN, "slack_api_url": slack.url}
    return Deps.of(Settings(_env_file=None, **values, **settings), sessions)


@pytest.mark.parametrize(("every", "expected"), [(30, timedelta(minutes=30)), (5, timedelta(minutes=5)), (0, None)])
def test_serve_checks_alerts_at_the_configured_interval_in_each_processs_own_store(
    db_url: str, sessions: sessionmaker[Session], slack: FakeSlack, every: int, expected: timedelta | None
) -> None:
    deps = deps_for(db_url, sessions, slack, alerts_every_minutes=every)
    scheduler = start_scheduler(deps=deps, client=make_client(deps.settings, BOT_TOKEN), start_paused=True)
    try:
        job = scheduler.get_job(ALERTS_JOB, jobstore=LOCAL)
        if expected is None:
            assert job is None  # 0 turns alerts off
        else:
            assert job is not None and isinstance(job.trigger, IntervalTrigger)
            assert job.trigger.interval == expected
            assert scheduler.get_job(ALERTS_JOB, jobstore="default") is None  # never in the shared store
    finally:
        scheduler.shutdown()
        install_context(None)


def test_the_fired_job_sends_the_days_dms(db_url: str, sessions: sessionmaker[Session], slack: FakeSlack) -> None:
    slack.ts_base = int(NOW.timestamp())
    deps = deps_for(db_url, sessions, slack)
    with sessions.begin() as s:
        paper = PaperRecord(arxiv_id="2411.00001", title="Latent Diffusion", hf_upvotes=3, daily_date=DAY)
        upsert_papers(session=s, records=[paper], seen_on=DAY)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="diffusion")
    client = make_client(deps.settings, BOT_TOKEN, idempotent_only=True)
    install_context(JobContext(deps=deps, client=client, scheduler=None, clock=lambda: NOW))
    try:
        assert run_alerts_job() == "1 sent, 0 without matches, 0 failed"
        assert run_alerts_job() == f"every alert of {DAY} is settled"
    finally:
        install_context(None)
    assert len(slack.posted("D1")) == 1


# ---- the reconcile job (bot.reconcile): at start, then every PAPERBOT_RECONCILE_EVERY_MINUTES ------------------


@pytest.mark.parametrize(("every", "expected"), [(30, timedelta(minutes=30)), (7, timedelta(minutes=7)), (0, None)])
def test_serve_reconciles_at_start_and_every_n_minutes_in_its_own_store(
    db_url: str, sessions: sessionmaker[Session], slack: FakeSlack, every: int, expected: timedelta | None
) -> None:
    deps = deps_for(db_url, sessions, slack, reconcile_every_minutes=every)
    before = datetime.now(UTC)
    scheduler = start_scheduler(deps=deps, client=make_client(deps.settings, BOT_TOKEN), start_paused=True)
    try:
        job = scheduler.get_job(RECONCILE_JOB, jobstore=LOCAL)
        if expected is None:
            assert job is None  # 0: only `paperbot reconcile`
        else:
            assert job is not None and isinstance(job.trigger, IntervalTrigger)
            assert job.trigger.interval == expected
            assert job.next_run_time is not None and job.next_run_time <= before + timedelta(seconds=15)  # at start
    finally:
        scheduler.shutdown()
        install_context(None)


def test_the_fired_reconcile_job_catches_up_from_slack(
    db_url: str, sessions: sessionmaker[Session], slack: FakeSlack
) -> None:
    deps = deps_for(db_url, sessions, slack, reconcile_calls_per_minute=60_000)
    ts = slack.next_ts()
    slack.add_message("C1", ts, user="UBOT0001", bot_id="BBOT0001", text="a paper")
    slack.react("C1", ts, "U1", "+1")
    with sessions.begin() as s:
        upsert_papers(session=s, records=[PaperRecord(arxiv_id="2411.00001", title="Latent Diffusion")])
        record_post(session=s, team_id=TEAM_ID, channel_id="C1", ts=ts, arxiv_id="2411.00001", kind="digest")
    install_context(JobContext(deps=deps, client=make_client(deps.settings, BOT_TOKEN), scheduler=None))
    try:
        assert run_reconcile_job() == (
            "reconciled 1 post in 1 channel: +1 reaction, -0 reactions, +0 replies, 0 edited, 0 deleted"
        )
        assert run_reconcile_job().startswith("reconciled 1 post in 1 channel: +0 reactions")
        slack.fail_all(status=500)  # Slack failing for longer than the client's retries: one line, no traceback
        assert run_reconcile_job() == "reconciliation stopped: Slack did not answer"
        slack.end_outages()
        assert run_reconcile_job().startswith("reconciled 1 post in 1 channel: +0 reactions")  # the next run resumes
    finally:
        install_context(None)
