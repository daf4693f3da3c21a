"""The recap's schedule: one job per channel with a recap, at its day and time in its zone, following the
settings; and a recap a dead worker left half-posted is finished by the next scheduler that starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.deps import Deps, make_client
from bot.recap_schedule import recap_job_id
from bot.scheduler import JobContext, build_scheduler, install_context, start_scheduler, sync_recap_jobs
from storage import digests as runs
from storage.channels import update_channel
from storage.states import RunKind, RunStatus
from tests.bot.test_recap import HERE, MONDAY, seed
from tests.fakes.hf import FakeHF
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack


def test_recap_jobs_follow_the_channels_settings(
    engine: Engine, sessions: sessionmaker[Session], slack: FakeSlack
) -> None:
    settings = Settings(_env_file=None, database_url=str(engine.url), slack_api_url=slack.url)
    sched: BackgroundScheduler = build_scheduler(engine)
    sched.start(paused=True)
    context = JobContext(deps=Deps.of(settings, sessions), client=make_client(settings, BOT_TOKEN), scheduler=sched)
    try:
        with sessions.begin() as s:
            update_channel(
                session=s,
                team_id=TEAM_ID,
                channel_id="CWEEK",
                timezone="Europe/Berlin",
                recap_day=4,
                recap_time="17:00",
            )
        assert sync_recap_jobs(context) == [recap_job_id(TEAM_ID, "CWEEK")]
        fire = sched.get_job(recap_job_id(TEAM_ID, "CWEEK")).next_run_time.astimezone(ZoneInfo("Europe/Berlin"))
        assert (fire.strftime("%A"), fire.hour, fire.minute) == ("Friday", 17, 0)
        with sessions.begin() as s:
            update_channel(session=s, team_id=TEAM_ID, channel_id="CWEEK", recap_day=None, recap_time=None)
        assert sync_recap_jobs(context) == []
        assert sched.get_job(recap_job_id(TEAM_ID, "CWEEK")) is None
    finally:
        sched.remove_all_jobs()
        sched.shutdown()


def test_a_restarted_scheduler_finishes_a_recap_a_dead_worker_left(
    engine: Engine, sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    settings = Settings(_env_file=None, database_url=str(engine.url), slack_api_url=slack.url, hf_api_url=hf.url)
    seed(sessions)
    # A worker claimed the week's recap and was killed before posting anything; its lease has run out.
    dead = datetime.now(UTC) - runs.LEASE - timedelta(minutes=5)
    with sessions.begin() as s:
        runs.claim_run(
            session=s,
            team_id=TEAM_ID,
            channel_id=HERE,
            day=MONDAY,
            worker="dead",
            plan=[],
            now=dead,
            kind=RunKind.RECAP,
        )
    sched = start_scheduler(deps=Deps(settings, engine, sessions), client=make_client(settings, BOT_TOKEN))
    try:
        slack.wait_for(lambda: _done(sessions) or None, timeout=15)
    finally:
        install_context(None)
        sched.shutdown()
    (message,) = slack.posted(HERE)
    assert message["blocks"][0]["text"]["text"] == "Weekly recap · 2026-W48 (23–29 Nov)"


def _done(sessions: sessionmaker[Session]) -> bool:
    with sessions.begin() as s:
        run = runs.get_run(session=s, team_id=TEAM_ID, channel_id=HERE, day=MONDAY, kind=RunKind.RECAP)
        return run is not None and run.status == RunStatus.DONE
