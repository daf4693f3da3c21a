"""Two `paperbot serve` replicas on one database both run the personal alert job for the same day: each
subscriber with a match gets exactly one DM, and a subscriber without one gets none.

Like tests/e2e/test_scheduler_replicas.py for the digest: each replica is its own process started with
bot.scheduler.start_scheduler, against the loopback Slack. The alert job lives in each process's own memory store;
it is made due now through APScheduler's `modify_job`, and each replica's job context carries the test's clock
(as tests/bot/test_scheduler_alerts.py does), so both replicas work on the same day whenever the test runs."""

from __future__ import annotations

import multiprocessing
import re
from datetime import UTC, date, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import select

from bot.alert_runner import alert_day
from bot.alerts import subscribe
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.scheduler import ALERTS_JOB, LOCAL, JobContext, install_context, start_scheduler
from storage.db import make_engine, make_sessions
from storage.models import AlertRun
from storage.papers import upsert_papers
from storage.records import PaperRecord
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday: Tuesday's list is the newest complete one
DAY = date(2026, 11, 24)
REPLICAS = 2
MATCHING = ["U1", "U2", "U3", "U4"]  # several people, so the replicas' runs overlap on someone's claim
UNMATCHED = "U9"
REPORT = re.compile(r"(\d+) sent, (\d+) without matches, (\d+) failed")


def _replica(db_url: str, slack_url: str, started: Any, stop: Any, reports: Any) -> None:
    """One replica: start the scheduler as `serve` does, with the test's clock; make the alert job due now."""
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack_url,
        reconcile_every_minutes=0,  # only the alert job talks to Slack here
    )
    engine = make_engine(settings.database_url)
    deps = Deps(settings, engine, make_sessions(engine))
    scheduler = start_scheduler(deps=deps, client=make_client(settings, BOT_TOKEN), start_paused=True)
    client = make_client(settings, BOT_TOKEN, idempotent_only=True)  # as start_scheduler's context has it
    install_context(JobContext(deps=deps, client=client, scheduler=scheduler, clock=lambda: NOW))

    def report(event: JobExecutionEvent) -> None:
        if event.job_id == ALERTS_JOB:
            reports.put(event.retval if event.exception is None else f"error: {event.exception!r}")

    scheduler.add_listener(report, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    started.wait()  # both replicas are up
    scheduler.modify_job(ALERTS_JOB, jobstore=LOCAL, next_run_time=datetime.now(UTC))  # its next check, now
    scheduler.resume()
    stop.wait(60)
    scheduler.shutdown()
    install_context(None)
    engine.dispose()


def sent_and_empty(outcome: str) -> tuple[int, int]:
    """(DMs sent, people without matches) from the job's answer; a run that found everything settled did none."""
    if outcome == f"every alert of {DAY} is settled":
        return 0, 0
    match = REPORT.fullmatch(outcome)
    assert match is not None and match.group(3) == "0", outcome
    return int(match.group(1)), int(match.group(2))


def test_two_replicas_running_the_alert_job_send_each_subscriber_one_dm(db_url: str, slack: FakeSlack) -> None:
    assert alert_day(NOW) == DAY
    slack.ts_base = int(NOW.timestamp())  # message ts on the test's clock, like the claims'
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    deps = Deps.of(Settings(_env_file=None, database_url=db_url, slack_bot_token=BOT_TOKEN), sessions)
    with sessions.begin() as s:
        papers = [
            PaperRecord("2411.00001", "Latent Diffusion for Video", ["Ada Lovelace"], hf_upvotes=30, daily_date=DAY),
            PaperRecord("2411.00002", "World Models that Plan", ["Yann LeCun"], hf_upvotes=20, daily_date=DAY),
        ]
        upsert_papers(session=s, records=papers, seen_on=DAY)
    for user in MATCHING:
        subscribe(deps, team_id=TEAM_ID, user_id=user, text="diffusion")
    subscribe(deps, team_id=TEAM_ID, user_id=UNMATCHED, text="quantum chemistry")

    spawn = multiprocessing.get_context("spawn")
    started, stop, reports = spawn.Barrier(REPLICAS), spawn.Event(), spawn.Queue()
    replicas = [
        spawn.Process(target=_replica, args=(db_url, slack.url, started, stop, reports)) for _ in range(REPLICAS)
    ]
    for p in replicas:
        p.start()
    try:
        outcomes = [reports.get(timeout=60) for _ in range(REPLICAS)]  # each replica's job ran once
    finally:
        stop.set()
        for p in replicas:
            p.join(timeout=30)
    assert [p.exitcode for p in replicas] == [0] * REPLICAS

    counts = [sent_and_empty(outcome) for outcome in outcomes]
    assert [sum(c) for c in zip(*counts, strict=True)] == [len(MATCHING), 1], outcomes
    for user in MATCHING:
        (dm,) = slack.posted("D" + user.removeprefix("U"))  # exactly one DM, whichever replica sent it
        assert dm["metadata"]["event_payload"] == {"day": DAY.isoformat(), "user": user}
        assert "Latent Diffusion for Video" in str(dm["blocks"]) and "World Models" not in str(dm["blocks"])
    assert slack.posted("D" + UNMATCHED.removeprefix("U")) == []
    assert len(slack.calls_to("chat.postMessage")) == len(MATCHING)
    with sessions.begin() as s:
        runs = {r.user_id: r.status for r in s.scalars(select(AlertRun).where(AlertRun.day == DAY))}
    assert runs == {**dict.fromkeys(MATCHING, "sent"), UNMATCHED: "empty"}
    engine.dispose()
