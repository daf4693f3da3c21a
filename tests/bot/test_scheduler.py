"""The digest schedule: each channel's job fires at its own local time (DST included), lives in the database
job store, and a fired job posts the digest or retries while the HF list is not out. No sleeping: triggers
are asked for their next fire time and jobs are run with a fixed clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.choose import Prefs, newest_day
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.digest import DigestContext, run_digest
from bot.scheduler import (
    JobContext,
    build_scheduler,
    install_context,
    job_id,
    make_trigger,
    run_scheduled_digest,
    start_scheduler,
    sync_jobs,
)
from storage.channels import update_channel
from storage.digests import LEASE, claim_run, finish_run
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def prefs(**kw: object) -> Prefs:
    return Prefs(**{"team_id": "T1", "channel_id": "C1", "size": 3, **kw})  # type: ignore[arg-type]


def next_fire(p: Prefs, after: datetime) -> datetime:
    fire: datetime | None = make_trigger(p).get_next_fire_time(None, after)  # APScheduler 3 is untyped
    assert fire is not None
    return fire


def test_fires_at_the_channels_local_time_across_the_spring_dst_change() -> None:
    p = prefs(digest_time="09:00", timezone="Europe/Berlin", include_weekends=True)
    before = next_fire(p, datetime(2026, 3, 27, 12, tzinfo=UTC))
    after = next_fire(p, datetime(2026, 3, 28, 12, tzinfo=UTC))
    # 09:00 in Berlin both days, which is 08:00 UTC before the change and 07:00 UTC after it.
    assert (before.astimezone(BERLIN).hour, after.astimezone(BERLIN).hour) == (9, 9)
    assert (before.astimezone(UTC).hour, after.astimezone(UTC).hour) == (8, 7)


def test_fires_at_local_time_across_the_autumn_change_and_skips_weekends_by_default() -> None:
    p = prefs(digest_time="08:30", timezone="America/New_York")
    monday = next_fire(p, datetime(2026, 10, 30, 18, tzinfo=UTC))  # after Friday's run
    assert monday.astimezone(NEW_YORK).date() == date(2026, 11, 2)  # Saturday and Sunday skipped
    assert (monday.astimezone(NEW_YORK).hour, monday.astimezone(NEW_YORK).minute) == (8, 30)
    assert monday.astimezone(UTC).hour == 13  # EST now; it was 12:30 UTC during EDT


def fired_lists(p: Prefs, start: datetime, fires: int) -> list[date]:
    """The list day each of the trigger's next `fires` fire times would post, in order."""
    trigger, days = make_trigger(p), []
    fire = trigger.get_next_fire_time(None, start)
    for _ in range(fires):
        assert fire is not None
        days.append(newest_day(fire, p))
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return days


@pytest.mark.parametrize(
    ("zone", "at"),
    [("Asia/Tokyo", "09:00"), ("America/Los_Angeles", "09:00"), ("Europe/Berlin", "09:00"), ("UTC", "02:00")],
)
@pytest.mark.parametrize("weekends", [False, True])
def test_every_list_is_posted_exactly_once_whatever_the_channels_time_zone(zone: str, at: str, weekends: bool) -> None:
    p = prefs(digest_time=at, timezone=zone, include_weekends=weekends)
    # Three weeks across both 2026 DST ends (Europe on 25 October, the US on 1 November).
    days = fired_lists(p, datetime(2026, 10, 19, tzinfo=UTC), 15 if not weekends else 21)
    span = [days[0] + timedelta(days=n) for n in range((days[-1] - days[0]).days + 1)]
    wanted = [d for d in span if weekends or d.weekday() < 5]
    assert days == wanted  # every (week)day's list once, in order: none skipped, none repeated


@pytest.fixture
def scheduler(
    engine: Engine, sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> Iterator[tuple[BackgroundScheduler, JobContext]]:
    settings = Settings(
        _env_file=None,
        database_url=str(engine.url),
        slack_api_url=slack.url,
        hf_api_url=hf.url,
        digest_channel="CDEFAULT",
        digest_time="09:00",
        timezone="UTC",
    )
    sched = build_scheduler(engine)
    sched.start(paused=True)  # jobs are stored and timed, but nothing fires on its own during the test
    context = JobContext(
        deps=Deps.of(settings, sessions),
        client=make_client(settings, BOT_TOKEN),
        scheduler=sched,
        default_team=TEAM_ID,
        sleep=lambda _s: None,
    )
    install_context(context)
    yield sched, context
    install_context(None)
    sched.remove_all_jobs()  # jobs timed in the (real) past must not fire while the scheduler stops
    sched.shutdown()


def local(job_time: datetime | None, zone: ZoneInfo) -> tuple[int, int]:
    assert job_time is not None
    moment = job_time.astimezone(zone)
    return moment.hour, moment.minute


def test_jobs_follow_the_channels_in_the_database_job_store(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session]
) -> None:
    sched, context = scheduler
    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CBERLIN", digest_time="07:30", timezone="Europe/Berlin")
    assert sync_jobs(sched, context) == [job_id(TEAM_ID, "CBERLIN"), job_id(TEAM_ID, "CDEFAULT")]
    assert local(sched.get_job(job_id(TEAM_ID, "CBERLIN")).next_run_time, BERLIN) == (7, 30)
    assert local(sched.get_job(job_id(TEAM_ID, "CDEFAULT")).next_run_time, ZoneInfo("UTC")) == (9, 0)

    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CBERLIN", digest_time="10:15")
    sync_jobs(sched, context)
    assert local(sched.get_job(job_id(TEAM_ID, "CBERLIN")).next_run_time, BERLIN) == (10, 15)

    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CBERLIN", digest_enabled=False)
    sync_jobs(sched, context)
    assert sched.get_job(job_id(TEAM_ID, "CBERLIN")) is None


def test_changing_only_the_time_zone_reschedules_the_job(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session]
) -> None:
    sched, context = scheduler
    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CMOVE", digest_time="09:00", timezone="Europe/Berlin")
    sync_jobs(sched, context)
    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CMOVE", timezone="Asia/Tokyo")
    sync_jobs(sched, context)
    job = sched.get_job(job_id(TEAM_ID, "CMOVE"))
    assert local(job.next_run_time, ZoneInfo("Asia/Tokyo")) == (9, 0)  # 09:00 in Tokyo now, not in Berlin


def test_a_tokyo_job_stored_by_an_older_version_is_moved_to_the_days_that_post_each_list_once(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session]
) -> None:
    sched, context = scheduler
    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CTOKYO", digest_time="09:00", timezone="Asia/Tokyo")
    old = CronTrigger(day_of_week="mon-fri", hour=9, minute=0, timezone=ZoneInfo("Asia/Tokyo"))
    sched.add_job(run_scheduled_digest, old, args=[TEAM_ID, "CTOKYO"], id=job_id(TEAM_ID, "CTOKYO"))
    sync_jobs(sched, context)
    job = sched.get_job(job_id(TEAM_ID, "CTOKYO"))
    # Tokyo's 09:00 is New York's evening before: Tuesday would post Friday's list again, Saturday posts Thursday's.
    assert str(job.trigger.fields[4]) == "mon,wed,thu,fri,sat"
    monday = job.trigger.get_next_fire_time(None, datetime(2026, 11, 29, 12, tzinfo=UTC))  # after Sunday noon
    days = [monday]
    for _ in range(4):
        days.append(job.trigger.get_next_fire_time(days[-1], days[-1] + timedelta(seconds=1)))
    assert [d.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%a") for d in days] == ["Mon", "Wed", "Thu", "Fri", "Sat"]


def test_a_fired_job_posts_the_previous_days_list_at_the_channels_time(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    sched, context = scheduler
    with sessions.begin() as s:
        update_channel(
            session=s,
            team_id=TEAM_ID,
            channel_id="CBERLIN",
            digest_time="07:30",
            timezone="Europe/Berlin",
            digest_size=2,
        )
    sync_jobs(sched, context)
    job = sched.get_job(job_id(TEAM_ID, "CBERLIN"))
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 11, 25, 0, tzinfo=UTC))  # a Wednesday
    tuesday = date(2026, 11, 24)
    hf.set_daily(tuesday, [daily_item(f"2411.2000{i}", f"Tuesday {i}", tuesday, upvotes=i) for i in range(3)])
    context.clock = lambda: fire
    assert run_scheduled_digest(*job.args) == "posted"
    assert [m["text"][:12] for m in slack.posted("CBERLIN")[1:]] == ["1. Tuesday 2", "2. Tuesday 1"]


def test_not_ready_retries_every_15_minutes_then_posts_a_notice_if_wanted(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session], slack: FakeSlack
) -> None:
    sched, context = scheduler
    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id="CEMPTY", post_empty_notice=True)
    fire = datetime(2026, 11, 25, 9, tzinfo=UTC)
    context.clock = lambda: fire
    assert run_scheduled_digest(TEAM_ID, "CEMPTY") == "not_ready"
    retry = sched.get_job(job_id(TEAM_ID, "CEMPTY") + ":retry")
    assert retry.next_run_time == fire + timedelta(minutes=15)
    assert slack.posted("CEMPTY") == []
    # Three hours later the list is still empty: the channel asked for a short notice instead of silence.
    context.clock = lambda: fire + timedelta(hours=3)
    assert run_scheduled_digest(*retry.args) == "empty"
    assert "No new papers" in slack.posted("CEMPTY")[0]["text"]


def test_a_busy_run_is_retried_just_after_the_other_workers_lease_would_end(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session]
) -> None:
    sched, context = scheduler
    day, fire = date(2026, 11, 24), datetime(2026, 11, 25, 9, tzinfo=UTC)
    with sessions.begin() as s:
        claim_run(session=s, team_id=TEAM_ID, channel_id="CBUSY", day=day, worker="other", plan=["x"], now=fire)
    context.clock = lambda: fire
    assert run_scheduled_digest(TEAM_ID, "CBUSY", day.isoformat()) == "busy"
    retry = sched.get_job(job_id(TEAM_ID, "CBUSY") + ":retry")
    # Had the other worker died, its claim would be free then: the retry resumes the digest instead of giving up.
    assert retry.next_run_time == fire + LEASE + timedelta(seconds=30)


def test_a_restarted_scheduler_resumes_a_half_posted_digest_through_apscheduler(
    engine: Engine, sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=str(engine.url),
        slack_api_url=slack.url,
        hf_api_url=hf.url,
    )
    day = date(2026, 11, 24)
    hf.set_daily(day, [daily_item(f"2411.3000{i}", f"Paper {i}", day, upvotes=10 - i) for i in range(3)])
    stop, waits = threading.Event(), {"n": 0}

    def shutdown_after_the_first_paper(_seconds: float) -> None:
        waits["n"] += 1
        if waits["n"] == 2:  # waits come before each paper after the header
            stop.set()

    first = DigestContext(
        deps=Deps.of(settings, sessions),
        client=make_client(settings, BOT_TOKEN),
        sleep=shutdown_after_the_first_paper,
        stop=stop,
    )
    assert run_digest(first, team_id=TEAM_ID, channel_id="CRESUME", day=day).status == "stopped"
    assert len(slack.posted("CRESUME")) == 2  # the header and the first paper
    # A new process starts: its scheduler's startup scan queues the resume, and APScheduler itself runs it.
    sched = start_scheduler(deps=Deps(settings, engine, sessions), client=make_client(settings, BOT_TOKEN))
    try:
        slack.wait_for(lambda: len(slack.posted("CRESUME")) == 4, timeout=15)
    finally:
        install_context(None)
        sched.shutdown()
    texts = [m["text"][:10] for m in slack.posted("CRESUME")[1:]]
    assert texts == ["1. Paper 0", "2. Paper 1", "3. Paper 2"]  # the rest, in order, nothing twice


def test_digest_off_in_the_default_channel_stops_its_schedule_and_the_cli_run(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session]
) -> None:
    from bot.channel_config import describe_channel
    from bot.digest import cli_targets

    sched, context = scheduler
    assert sync_jobs(sched, context) == [job_id(TEAM_ID, "CDEFAULT")]
    with sessions.begin() as s:  # what `/papers config digest off` stores in PAPERBOT_DIGEST_CHANNEL
        update_channel(session=s, team_id=TEAM_ID, channel_id="CDEFAULT", digest_enabled=False)
    assert sync_jobs(sched, context) == []
    assert sched.get_job(job_id(TEAM_ID, "CDEFAULT")) is None
    digest_ctx = DigestContext(deps=Deps.of(context.settings, sessions))
    assert cli_targets(digest_ctx, team_id=TEAM_ID, channel=None) == []
    shown = describe_channel(digest_ctx.deps, team_id=TEAM_ID, channel_id="CDEFAULT")
    assert "no scheduled digest here" in shown


def test_a_list_the_fire_days_skipped_is_posted_by_the_next_fire_before_the_newest(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    sched, context = scheduler
    with sessions.begin() as s:  # 04:30 in London is New York's evening before: fires Monday, Wednesday-Saturday
        update_channel(
            session=s,
            team_id=TEAM_ID,
            channel_id="CLONDON",
            digest_time="04:30",
            timezone="Europe/London",
            digest_size=1,
        )
    sync_jobs(sched, context)
    job = sched.get_job(job_id(TEAM_ID, "CLONDON"))
    lists = {"Fri": date(2026, 3, 6), "Mon": date(2026, 3, 9), "Tue": date(2026, 3, 10)}
    for name, day in lists.items():
        hf.set_daily(day, [daily_item(f"2603.{day.day:05d}", f"{name} paper", day, upvotes=5)])
    # The week only the US is on DST: 04:30 in London is 00:30 in New York, and no fire's list is Monday's.
    monday = job.trigger.get_next_fire_time(None, datetime(2026, 3, 8, 12, tzinfo=UTC))
    wednesday = job.trigger.get_next_fire_time(monday, monday + timedelta(seconds=1))
    assert [f.astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") for f in (monday, wednesday)] == [
        "Mon 04:30",
        "Wed 04:30",
    ]
    context.clock = lambda: monday
    assert run_scheduled_digest(*job.args) == "posted"
    context.clock = lambda: wednesday
    assert run_scheduled_digest(*job.args) == "posted"
    texts = [m["text"] for m in slack.posted("CLONDON")]
    assert [t[:10] for t in texts if t[0].isdigit()] == ["1. Fri pap", "1. Mon pap", "1. Tue pap"]  # in order
    assert [t for t in texts if t.startswith("Daily papers")] == [
        "Daily papers for Friday, 6 March 2026: 1 paper",
        "Daily papers for Monday, 9 March 2026: 1 paper",
        "Daily papers for Tuesday, 10 March 2026: 1 paper",
    ]
    # The job fires again (another replica, a misfire run): nothing is posted twice.
    context.clock = lambda: wednesday + timedelta(hours=1)
    assert run_scheduled_digest(*job.args) == "already_done"
    assert len(slack.posted("CLONDON")) == len(texts)


def test_catching_up_stops_at_a_list_that_fails_and_retries_that_list_first(
    scheduler: tuple[BackgroundScheduler, JobContext], sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    sched, context = scheduler
    friday, monday, tuesday = date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)
    for name, day in (("Monday", monday), ("Tuesday", tuesday)):
        hf.set_daily(day, [daily_item(f"2611.{day.day:05d}", f"{name} paper", day, upvotes=5)])
    with sessions.begin() as s:  # Friday's digest was the channel's last; Monday's fire was missed
        run = claim_run(session=s, team_id=TEAM_ID, channel_id="CGAP", day=friday, worker="w", plan=[]).run
        finish_run(session=s, run_id=run.id, worker="w", status="empty")
    hf.fail_next(f"daily_papers?date={monday.isoformat()}", 503, times=20)  # HF is down while Monday's is fetched
    fire = datetime(2026, 11, 25, 9, tzinfo=UTC)
    context.clock = lambda: fire
    assert run_scheduled_digest(TEAM_ID, "CGAP") == "failed"
    assert slack.posted("CGAP") == []  # Tuesday's waits: the channel never gets the lists out of order
    retry = sched.get_job(job_id(TEAM_ID, "CGAP") + ":retry")
    assert (retry.next_run_time, retry.args[2]) == (fire + timedelta(minutes=15), monday.isoformat())
    hf.failures.clear()
    context.clock = lambda: fire + timedelta(minutes=15)
    assert run_scheduled_digest(*retry.args) == "posted"  # the retry posts Monday's only...
    context.clock = lambda: fire + timedelta(days=1)
    # ...the next fire Tuesday's, then finds Wednesday's list not out yet and retries that one.
    assert run_scheduled_digest(TEAM_ID, "CGAP") == "not_ready"
    assert [m["text"][:12] for m in slack.posted("CGAP") if m["text"][0].isdigit()] == ["1. Monday pa", "1. Tuesday p"]
    assert sched.get_job(job_id(TEAM_ID, "CGAP") + ":retry").args[2] == "2026-11-25"
