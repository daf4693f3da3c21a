"""Which day's list a digest posts: the newest complete one, never newer than the channel's own yesterday, and
on which local days a channel's digest must fire, and which lists a fire catches up on so every wanted list goes
out once (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.choose import Prefs, digest_weekdays, newest_day, pending_days
from bot.sources.hf import newest_complete_day


def prefs(timezone: str, digest_time: str = "09:00", weekends: bool = False) -> Prefs:
    return Prefs("T1", "C1", 5, timezone=timezone, digest_time=digest_time, include_weekends=weekends)


def at(local: str, timezone: str) -> datetime:
    """A moment given on the channel's own clock, e.g. `at("2026-11-25 09:00", "Asia/Tokyo")`."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(timezone))


FRI_BEFORE = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("zone", "local", "posts"),
    [
        # Tokyo 09:00 Wednesday is Tuesday 19:00 in New York: Tuesday's list is still filling, Monday's is newest.
        ("Asia/Tokyo", "2026-11-25 09:00", date(2026, 11, 23)),
        # Tokyo on Monday and on Tuesday: Friday's is the newest complete weekday list both times.
        ("Asia/Tokyo", "2026-11-23 09:00", FRI_BEFORE),
        ("Asia/Tokyo", "2026-11-24 09:00", FRI_BEFORE),
        # Tokyo on Saturday morning (Friday evening in New York): Thursday's list.
        ("Asia/Tokyo", "2026-11-28 09:00", date(2026, 11, 26)),
        # London 09:00 is 04:00 in New York: yesterday's list is complete, and is the channel's yesterday.
        ("Europe/London", "2026-11-25 09:00", date(2026, 11, 24)),
        ("Europe/London", "2026-11-23 09:00", FRI_BEFORE),  # Monday gets Friday's
        ("America/New_York", "2026-11-25 09:00", date(2026, 11, 24)),
        ("America/Los_Angeles", "2026-11-25 09:00", date(2026, 11, 24)),
        # Los Angeles late on Tuesday (02:30 Wednesday in New York): Tuesday's list is complete, but the channel's
        # own yesterday, Monday, is the list it has not had yet; Tuesday's comes with Wednesday's run.
        ("America/Los_Angeles", "2026-11-24 23:30", date(2026, 11, 23)),
    ],
)
def test_the_newest_complete_list_never_newer_than_the_channels_yesterday(zone: str, local: str, posts: date) -> None:
    assert newest_day(at(local, zone), prefs(zone)) == posts


def test_weekend_lists_only_for_channels_that_want_them() -> None:
    tokyo_tuesday = at("2026-11-24 09:00", "Asia/Tokyo")  # Monday 19:00 in New York
    assert newest_day(tokyo_tuesday, prefs("Asia/Tokyo", weekends=True)) == date(2026, 11, 22)  # Sunday's
    assert newest_day(tokyo_tuesday, prefs("Asia/Tokyo")) == FRI_BEFORE
    london_sunday = at("2026-11-22 09:00", "Europe/London")
    assert newest_day(london_sunday, prefs("Europe/London", weekends=True)) == date(2026, 11, 21)
    assert newest_day(london_sunday, prefs("Europe/London")) == FRI_BEFORE


def test_us_daylight_saving_time_moves_which_list_is_complete_at_a_fixed_utc_time() -> None:
    # 04:30 UTC: 23:30 the day before in New York in winter (EST), 00:30 the same day in summer (EDT).
    winter, summer = datetime(2026, 1, 14, 4, 30, tzinfo=UTC), datetime(2026, 7, 15, 4, 30, tzinfo=UTC)
    assert newest_day(winter, prefs("UTC")) == date(2026, 1, 12)  # Tuesday's list still filling
    assert newest_day(summer, prefs("UTC")) == date(2026, 7, 14)


def test_naive_datetimes_are_utc() -> None:
    assert newest_day(datetime(2026, 11, 25, 0, 0), prefs("Asia/Tokyo")) == date(2026, 11, 23)


def test_the_docstring_examples_hold() -> None:
    assert newest_day(datetime(2026, 11, 25, 0, tzinfo=UTC), Prefs("T", "C", 5, timezone="Asia/Tokyo")) == date(
        2026, 11, 23
    )
    assert digest_weekdays(Prefs("T", "C", 5, timezone="Asia/Tokyo")) == "mon,wed,thu,fri,sat"
    assert digest_weekdays(Prefs("T", "C", 5, timezone="Europe/London")) == "mon,tue,wed,thu,fri"
    assert digest_weekdays(prefs("Asia/Tokyo", weekends=True)) == "*"
    assert pending_days(
        datetime(2026, 3, 11, 4, 30, tzinfo=UTC), Prefs("T", "C", 5, timezone="Europe/London"), date(2026, 3, 6)
    ) == [date(2026, 3, 9), date(2026, 3, 10)]


def fired_lists(p: Prefs, start: datetime, fires: int) -> list[date]:
    """The list each of the next `fires` fire times of a cron trigger on `digest_weekdays(p)` posts, in order."""
    hour, minute = (int(x) for x in p.digest_time.split(":"))
    trigger = CronTrigger(day_of_week=digest_weekdays(p), hour=hour, minute=minute, timezone=ZoneInfo(p.timezone))
    days, fire = [], trigger.get_next_fire_time(None, start)
    for _ in range(fires):
        assert fire is not None
        days.append(newest_day(fire, p))
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return days


@pytest.mark.parametrize(
    ("zone", "time"),
    [
        ("Asia/Tokyo", "09:00"),
        ("Pacific/Auckland", "08:00"),
        ("Europe/Berlin", "09:00"),
        ("Europe/London", "09:00"),
        ("America/New_York", "08:30"),
        ("America/Los_Angeles", "09:00"),
        ("America/Los_Angeles", "23:30"),
        ("UTC", "02:00"),
    ],
)
@pytest.mark.parametrize("weekends", [False, True])
def test_firing_on_digest_weekdays_posts_every_list_once_in_order(zone: str, time: str, weekends: bool) -> None:
    p = prefs(zone, time, weekends)
    # Three weeks across both 2026 DST ends (Europe on 25 October, the US on 1 November).
    days = fired_lists(p, datetime(2026, 10, 19, tzinfo=UTC), 15 if not weekends else 21)
    span = [days[0] + timedelta(days=n) for n in range((days[-1] - days[0]).days + 1)]
    assert days == [d for d in span if weekends or d.weekday() < 5]  # none skipped, none repeated


# ---- catching up -----------------------------------------------------------------------------------------


def simulate(p: Prefs, start: date, end: date) -> list[tuple[datetime, list[date]]]:
    """Fire a cron trigger on `digest_weekdays(p)` at the channel's time from `start` to `end` and apply
    `pending_days` as the scheduler does (its `last`: the newest posted day not after the fire's newest list)."""
    hour, minute = (int(x) for x in p.digest_time.split(":"))
    zone = ZoneInfo(p.timezone)
    trigger = CronTrigger(day_of_week=digest_weekdays(p), hour=hour, minute=minute, timezone=zone)
    fires: list[tuple[datetime, list[date]]] = []
    posted: set[date] = set()
    fire = trigger.get_next_fire_time(None, datetime.combine(start, datetime.min.time(), zone))
    while fire is not None and fire.date() <= end:
        newest = newest_day(fire, p)
        days = pending_days(fire, p, max((d for d in posted if d <= newest), default=None))
        posted.update(days)
        fires.append((fire, days))
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return fires


@pytest.mark.parametrize(
    ("zone", "time"),
    [
        ("Asia/Karachi", "09:00"),
        ("Europe/London", "04:30"),
        ("Europe/Berlin", "05:30"),
        ("Asia/Tokyo", "09:00"),
        ("America/Los_Angeles", "09:00"),
        ("Asia/Kolkata", "09:45"),
        ("Pacific/Auckland", "09:00"),
    ],
)
@pytest.mark.parametrize("weekends", [False, True])
def test_catching_up_posts_every_list_of_2026_and_2027_once_and_only_when_complete(
    zone: str, time: str, weekends: bool
) -> None:
    p = prefs(zone, time, weekends)
    fires = simulate(p, date(2026, 1, 1), date(2027, 12, 31))
    posted = [day for _fire, days in fires for day in days]
    assert posted == sorted(set(posted))  # each list once, oldest first
    span = [posted[0] + timedelta(days=n) for n in range((posted[-1] - posted[0]).days + 1)]
    assert posted == [d for d in span if weekends or d.weekday() < 5]  # none lost, weekend ones only if wanted
    assert posted[-1] >= date(2027, 12, 24)  # the simulation really ran to the end
    for fire, days in fires:  # never a list still filling on Hugging Face, nor one of the channel's today
        assert all(day <= newest_complete_day(fire) for day in days)
        assert all(day < fire.astimezone(ZoneInfo(zone)).date() for day in days)


@pytest.mark.parametrize(
    ("zone", "time", "weekends", "lost"),
    [
        ("Asia/Karachi", "09:00", False, date(2026, 3, 6)),  # a Friday list every March
        ("Asia/Karachi", "09:00", False, date(2027, 3, 12)),
        ("Europe/London", "04:30", False, date(2026, 3, 9)),  # Mondays in the weeks only the US is on DST
        ("Europe/Berlin", "05:30", False, date(2026, 10, 26)),
        ("Europe/London", "04:30", True, date(2026, 3, 7)),
        ("Europe/London", "04:30", True, date(2026, 10, 23)),
    ],
)
def test_a_list_the_fire_days_skip_around_dst_is_posted_by_the_next_fire_before_the_newest(
    zone: str, time: str, weekends: bool, lost: date
) -> None:
    fires = simulate(prefs(zone, time, weekends), lost - timedelta(days=14), lost + timedelta(days=14))
    newest = [newest_day(fire, prefs(zone, time, weekends)) for fire, _days in fires]
    assert lost not in newest  # no fire's own list: without catching up this list was never posted
    catching_up = [days for _fire, days in fires if lost in days]
    assert catching_up == [[lost, *catching_up[0][1:]]] and len(catching_up[0]) >= 2  # once, oldest first


def test_pending_days_bounds_a_new_or_long_idle_channel_to_the_newest_list() -> None:
    london, wednesday = prefs("Europe/London"), at("2026-11-25 09:00", "Europe/London")  # newest: Tuesday's
    tuesday = date(2026, 11, 24)
    assert pending_days(wednesday, london, None) == [tuesday]  # a new channel: no backlog
    assert pending_days(wednesday, london, date(2026, 11, 16)) == [tuesday]  # last run 8 days before: idle
    assert pending_days(wednesday, london, date(2026, 11, 17)) == [  # a week before: caught up, no weekend
        date(2026, 11, 18),
        date(2026, 11, 19),
        date(2026, 11, 20),
        date(2026, 11, 23),
        tuesday,
    ]
    assert pending_days(wednesday, london, tuesday) == []  # already has a run
    assert pending_days(wednesday, prefs("Europe/London", weekends=True), date(2026, 11, 20)) == [
        date(2026, 11, 21),
        date(2026, 11, 22),
        date(2026, 11, 23),
        tuesday,
    ]
