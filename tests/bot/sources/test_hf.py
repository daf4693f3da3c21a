"""Hugging Face Daily Papers: parsing real item shapes, and the HTTP client against the loopback fake."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.sources.hf import HFClient, SourceError, newest_complete_day, parse_daily_item, parse_items
from tests.fakes.hf import FakeHF, daily_item

# A daily_papers item as HF serves it (trimmed values, every documented field present).
FULL_ITEM: dict[str, Any] = {
    "paper": {
        "id": "2410.13732",
        "authors": [
            {
                "_id": "671a0c1f0e9f4e6e5b1c0001",
                "name": "Bernhard Bermeitinger",
                "hidden": False,
                "user": {
                    "_id": "60f0a0b0c0d0e0f0a0b0c0d0",
                    "avatarUrl": "/avatars/x.svg",
                    "fullname": "B. B.",
                    "user": "bbermeitinger",
                    "isPro": False,
                    "type": "user",
                },
            },
            {"_id": "671a0c1f0e9f4e6e5b1c0002", "name": "Tomas Hrycej", "hidden": True},
        ],
        "publishedAt": "2024-10-17T09:00:00.000Z",
        "submittedOnDailyAt": "2024-10-18T02:15:00.000Z",
        "title": "Reducing the Transformer Architecture\n  to a Minimum",
        "summary": "Transformers are a widespread\nand successful model architecture.",
        "upvotes": 12,
        "discussionId": "671a0c1f0e9f4e6e5b1c0003",
        "ai_summary": "Removing MLPs keeps accuracy.",
        "ai_keywords": ["transformer", "attention"],
        "githubRepo": "https://github.com/example/minimal-transformer",
        "githubStars": 42,
        "projectPage": "https://example.org/minimal",
        "organization": {"_id": "1" * 24, "name": "example", "fullname": "Example Lab", "avatar": None},
    },
    "publishedAt": "2024-10-18T02:15:00.000Z",
    "title": "Reducing the Transformer Architecture to a Minimum",
    "summary": "Transformers are a widespread and successful model architecture.",
    "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.13732.png",
    "numComments": 3,
    "submittedBy": {"_id": "2" * 24, "name": "akhaliq", "fullname": "AK"},
    "isAuthorParticipating": False,
}


# ---- parse_daily_item --------------------------------------------------------------------------------------


def test_full_item_becomes_a_complete_record() -> None:
    record = parse_daily_item(FULL_ITEM)
    assert record.arxiv_id == "2410.13732"
    assert record.title == "Reducing the Transformer Architecture to a Minimum"
    assert record.abstract == "Transformers are a widespread and successful model architecture."
    assert record.authors == ["Bernhard Bermeitinger", "Tomas Hrycej"]  # the hidden author is kept
    assert record.published == date(2024, 10, 17)
    assert record.daily_date == date(2024, 10, 18)
    assert (record.hf_upvotes, record.hf_comments, record.github_stars) == (12, 3, 42)
    assert record.github_repo == "https://github.com/example/minimal-transformer"
    assert record.ai_keywords == ["transformer", "attention"]
    assert record.project_page == "https://example.org/minimal"
    assert record.thumbnail and record.thumbnail.endswith("2410.13732.png")
    assert record.source == "hf"


OPTIONAL_PAPER = [
    "authors",
    "publishedAt",
    "summary",
    "upvotes",
    "ai_summary",
    "ai_keywords",
    "githubRepo",
    "githubStars",
    "projectPage",
    "submittedOnDailyAt",
    "discussionId",
    "organization",
]
OPTIONAL_ITEM = ["publishedAt", "summary", "thumbnail", "numComments", "submittedBy", "isAuthorParticipating"]


@pytest.mark.parametrize("how", ["missing", "null"])
def test_every_optional_field_may_be_missing_or_null(how: str) -> None:
    item = copy.deepcopy(FULL_ITEM)
    for key in OPTIONAL_PAPER:
        if how == "missing":
            item["paper"].pop(key)
        else:
            item["paper"][key] = None
    for key in OPTIONAL_ITEM:
        if how == "missing":
            item.pop(key)
        else:
            item[key] = None
    record = parse_daily_item(item)
    assert record.arxiv_id == "2410.13732"
    assert record.title == "Reducing the Transformer Architecture to a Minimum"
    assert record.authors == [] and record.ai_keywords == []
    assert record.abstract is None and record.published is None and record.daily_date is None
    assert record.hf_upvotes is None and record.hf_comments is None and record.github_stars is None


def test_item_title_and_summary_stand_in_for_the_papers() -> None:
    item = copy.deepcopy(FULL_ITEM)
    del item["paper"]["title"], item["paper"]["summary"]
    record = parse_daily_item(item)
    assert record.title == "Reducing the Transformer Architecture to a Minimum"
    assert record.abstract == "Transformers are a widespread and successful model architecture."


def test_flat_paper_object_of_papers_endpoint() -> None:
    flat = {**copy.deepcopy(FULL_ITEM["paper"]), "numComments": 5, "linkedModels": [], "numTotalModels": 0}
    record = parse_daily_item(flat)
    assert record.arxiv_id == "2410.13732" and record.hf_comments == 5
    assert record.daily_date == date(2024, 10, 18)  # from submittedOnDailyAt
    assert record.authors == ["Bernhard Bermeitinger", "Tomas Hrycej"]


def test_versioned_and_old_style_ids_are_normalised() -> None:
    assert parse_daily_item({"paper": {"id": "2410.13732v3", "title": "T"}}).version == "v3"
    assert parse_daily_item({"id": "hep-th/9901001", "title": "T"}).arxiv_id == "hep-th/9901001"


def test_junk_values_in_optional_fields_are_ignored() -> None:
    item = {
        "paper": {
            "id": "2410.13732",
            "title": "T",
            "upvotes": "many",
            "githubStars": True,
            "authors": [None, {"name": None}, {"name": "Ann"}, "Bob"],
            "publishedAt": "yesterday",
            "ai_keywords": "not a list",
        },
        "numComments": 1.5,
    }
    record = parse_daily_item(item)
    assert record.authors == ["Ann"]
    assert record.hf_upvotes is None and record.github_stars is None and record.hf_comments is None
    assert record.published is None and record.ai_keywords == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"paper": {"title": "No id"}}, "no paper.id"),
        ({"paper": {"id": None, "title": "No id"}}, "no paper.id"),
        ({"paper": {"id": "not-an-id", "title": "T"}}, "not an arXiv id"),
        ({"paper": {"id": "2410.13732"}}, "2410.13732 has no title"),
        ({"paper": {"id": "2410.13732", "title": "  "}, "title": None}, "2410.13732 has no title"),
        (["a", "list"], "must be a JSON object"),
    ],
)
def test_required_fields_missing_is_a_clear_error(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_daily_item(item)


# ---- the fake itself serves HF's paging rules --------------------------------------------------------------


@pytest.fixture
def fake_hf() -> Iterator[FakeHF]:
    fake = FakeHF().start()
    yield fake
    fake.stop()


def test_fake_pages_like_hf(fake_hf: FakeHF) -> None:
    import httpx

    day = date(2025, 11, 24)
    fake_hf.set_daily(day, [daily_item(f"2511.{n:05d}", f"Paper {n}", day) for n in range(5)])
    pages = [
        httpx.get(fake_hf.url + "daily_papers", params={"date": "2025-11-24", "p": p, "limit": 2}).json()
        for p in range(4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert httpx.get(fake_hf.url + "daily_papers", params={"date": "2025-13-01"}).status_code == 400
    assert httpx.get(fake_hf.url + "papers/2410.00001").status_code == 404


# ---- HFClient against the fake ---------------------------------------------------------------------------


class Sleeps(list[float]):
    """An injectable `sleep` that records what the client asked to wait, and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


DAY = date(2025, 11, 24)


def make_client(fake: FakeHF, sleeps: Sleeps, **kwargs: Any) -> HFClient:
    # jitter=1.0 makes the backoff deterministic: the full step 1, 2, 4 … seconds.
    return HFClient(fake.url, sleep=sleeps, jitter=lambda: 1.0, **{"timeout": 2.0, **kwargs})


def papers_of(day: date, count: int) -> list[dict[str, Any]]:
    # Ids unique per day: YYMM.DDNNN.
    return [
        daily_item(f"{day:%y%m}.{day.day:02d}{n:03d}", f"Paper {n} of {day}", day, upvotes=n)
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (7, 1), (50, 2), (120, 3)])
def test_daily_reads_every_page(fake_hf: FakeHF, count: int, pages: int) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, count))
    with make_client(fake_hf, Sleeps()) as client:
        records = client.daily_records(DAY)
    assert [r.title for r in records] == [f"Paper {n} of {DAY}" for n in range(1, count + 1)]
    assert all(r.daily_date == DAY for r in records)
    assert [r.params["p"] for r in fake_hf.requests] == [str(p) for p in range(pages)]
    assert {r.params["date"] for r in fake_hf.requests} == {"2025-11-24"}


def test_week_and_month_cover_their_days(fake_hf: FakeHF) -> None:
    monday, sunday, next_monday = date(2025, 11, 24), date(2025, 11, 30), date(2025, 12, 1)
    for day in (monday, sunday, next_monday):
        fake_hf.set_daily(day, papers_of(day, 3))
    with make_client(fake_hf, Sleeps()) as client:
        week = parse_items(client.week("2025-W48"))
        month = parse_items(client.month("2025-11"))
        with pytest.raises(ValueError, match="ISO week"):
            client.week("2025-48")
        with pytest.raises(ValueError, match="YYYY-MM"):
            client.month("2025-13")
    assert {r.daily_date for r in week} == {monday, sunday}
    assert {r.daily_date for r in month} == {monday, sunday}


def test_a_broken_item_is_skipped_not_fatal(fake_hf: FakeHF) -> None:
    fake_hf.set_daily(DAY, [{"paper": {"title": "no id"}}, *papers_of(DAY, 2), papers_of(DAY, 1)[0]])
    with make_client(fake_hf, Sleeps()) as client:
        records = client.daily_records(DAY)
    assert [r.arxiv_id for r in records] == ["2511.24001", "2511.24002"]  # no repeat of the duplicate


def test_server_errors_are_retried_with_growing_backoff(fake_hf: FakeHF) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 2))
    fake_hf.fail_next("daily_papers", 503, times=3)
    sleeps = Sleeps()
    with make_client(fake_hf, sleeps, max_retries=3) as client:
        assert len(client.daily(DAY)) == 2
    assert sleeps == [1.0, 2.0, 4.0]


def test_jitter_spreads_the_backoff(fake_hf: FakeHF) -> None:
    fake_hf.fail_next("daily_papers", 500, times=2)
    sleeps = Sleeps()
    with HFClient(fake_hf.url, sleep=sleeps, jitter=lambda: 0.0, backoff=2.0) as client:
        client.daily(DAY)
    assert sleeps == [1.0, 2.0]  # half of each step at the least


def test_gives_up_with_a_clear_error(fake_hf: FakeHF) -> None:
    fake_hf.fail_next("daily_papers", 502, times=10)
    sleeps = Sleeps()
    with make_client(fake_hf, sleeps, max_retries=2) as client, pytest.raises(SourceError) as info:
        client.daily(DAY)
    message = str(info.value)
    assert "gave up on" in message and "daily_papers?date=2025-11-24" in message
    assert "after 3 tries: HTTP 502" in message and "HF_API_URL" in message
    assert len(fake_hf.requests) == 3 and len(sleeps) == 2


def test_unreachable_server_names_the_url() -> None:
    fake = FakeHF().start()
    url = fake.url
    fake.stop()  # nothing listens there any more
    with HFClient(url, max_retries=1, sleep=Sleeps()) as client, pytest.raises(SourceError) as info:
        client.daily(DAY)
    assert "connection failed" in str(info.value) and url in str(info.value)


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"RateLimit": '"api";r=0;t=42', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}, 42.0),
        ({}, 1.0),  # no hint: ordinary backoff
    ],
)
def test_429_waits_as_the_headers_say(fake_hf: FakeHF, headers: dict[str, str], waited: float) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 1))
    fake_hf.fail_next("daily_papers", 429, headers=headers)
    sleeps = Sleeps()
    with make_client(fake_hf, sleeps) as client:
        assert len(client.daily(DAY)) == 1
    assert sleeps == [waited]


def test_429_with_a_long_wait_is_reported_not_slept(fake_hf: FakeHF) -> None:
    fake_hf.fail_next("daily_papers", 429, headers={"RateLimit": '"api";r=0;t=3600'})
    sleeps = Sleeps()
    with (
        make_client(fake_hf, sleeps) as client,
        pytest.raises(SourceError, match="rate limited for another 3600s"),
    ):
        client.daily(DAY)
    assert sleeps == []


def test_a_503_with_retry_after_waits_as_told(fake_hf: FakeHF) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 1))
    fake_hf.fail_next("daily_papers", 503, headers={"Retry-After": "12"})
    sleeps = Sleeps()
    with make_client(fake_hf, sleeps) as client:
        assert len(client.daily(DAY)) == 1
    assert sleeps == [12.0]  # not the 1 s backoff


def test_a_503_asking_for_an_hour_is_reported_not_slept(fake_hf: FakeHF) -> None:
    fake_hf.fail_next("daily_papers", 503, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with (
        make_client(fake_hf, sleeps) as client,
        pytest.raises(SourceError, match=r"is unavailable for another 3600s \(HTTP 503\): try again later"),
    ):
        client.daily(DAY)
    assert sleeps == [] and len(fake_hf.requests) == 1


class StoppedClock:
    """The client's `clock` and `sleep` in one: UTC time that moves only when the client sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def clocked_client(fake: FakeHF, clock: StoppedClock) -> HFClient:
    return HFClient(fake.url, sleep=clock.sleep, clock=clock, jitter=lambda: 1.0, timeout=2.0)


# RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date; the preferred form and the obsolete RFC 850
# form (which recipients must accept too).
@pytest.mark.parametrize("when", ["Wed, 21 Oct 2026 07:28:00 GMT", "Wednesday, 21-Oct-26 07:28:00 GMT"])
def test_429_with_an_http_date_waits_until_that_moment(fake_hf: FakeHF, when: str) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 1))
    # Asked twice for the same moment: the second wait is what is left of it on the client's clock.
    fake_hf.fail_next("daily_papers", 429, times=2, headers={"Retry-After": when})
    clock = StoppedClock(datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC))
    with clocked_client(fake_hf, clock) as client:
        assert len(client.daily(DAY)) == 1
    assert clock.sleeps == [30.0, 0.0] and len(fake_hf.requests) == 3


def test_429_with_an_http_date_far_ahead_is_reported_not_slept(fake_hf: FakeHF) -> None:
    fake_hf.fail_next("daily_papers", 429, headers={"Retry-After": "Wed, 21 Oct 2026 08:28:00 GMT"})
    clock = StoppedClock(datetime(2026, 10, 21, 7, 28, tzinfo=UTC))
    with (
        clocked_client(fake_hf, clock) as client,
        pytest.raises(SourceError, match="rate limited for another 3600s"),
    ):
        client.daily(DAY)
    assert clock.sleeps == []


def test_429_with_an_asctime_date_waits_until_that_moment(fake_hf: FakeHF) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 1))
    fake_hf.fail_next("daily_papers", 429, headers={"Retry-After": "Wed Oct 21 07:28:00 2026"})
    clock = StoppedClock(datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC))
    with clocked_client(fake_hf, clock) as client:
        assert len(client.daily(DAY)) == 1
    assert clock.sleeps == [30.0]


def test_client_errors_are_not_retried(fake_hf: FakeHF) -> None:
    sleeps = Sleeps()
    with make_client(fake_hf, sleeps) as client, pytest.raises(SourceError) as info:
        client.week("2025-W53")  # 2025 has 52 ISO weeks: HF answers 400
    message = str(info.value)
    assert "HTTP 400" in message and "Invalid date" in message and "not retried" in message
    assert sleeps == [] and len(fake_hf.requests) == 1


def test_a_timeout_is_retried(fake_hf: FakeHF) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 1))
    fake_hf.delay_next(2.0)
    sleeps = Sleeps()
    with make_client(fake_hf, sleeps, timeout=0.2) as client:
        assert len(client.daily(DAY)) == 1
    assert sleeps == [1.0] and len(fake_hf.requests) == 2


def test_timeouts_every_time_give_up(fake_hf: FakeHF) -> None:
    fake_hf.delay_next(2.0, times=2)
    with (
        make_client(fake_hf, Sleeps(), timeout=0.2, max_retries=1) as client,
        pytest.raises(SourceError) as info,
    ):
        client.daily(DAY)
    assert "no answer within 0.2s" in str(info.value)


def test_a_malformed_body_is_retried_then_reported(fake_hf: FakeHF) -> None:
    fake_hf.set_daily(DAY, papers_of(DAY, 1))
    fake_hf.fail_next("daily_papers", 200, body='[{"paper": {"id": "2511.0')  # cut off mid-way
    with make_client(fake_hf, Sleeps()) as client:
        assert len(client.daily(DAY)) == 1
    fake_hf.fail_next("daily_papers", 200, times=5, body="<html>oops</html>")
    with (
        make_client(fake_hf, Sleeps(), max_retries=1) as client,
        pytest.raises(SourceError, match="not JSON"),
    ):
        client.daily(DAY)
    fake_hf.fail_next("daily_papers", 200, body='{"error": "not a list"}')
    with make_client(fake_hf, Sleeps()) as client, pytest.raises(SourceError, match="not an array"):
        client.daily(DAY)


def test_single_paper_lookup(fake_hf: FakeHF) -> None:
    fake_hf.set_paper("2410.13732", {**copy.deepcopy(FULL_ITEM["paper"]), "numComments": 2})
    with make_client(fake_hf, Sleeps()) as client:
        record = client.paper("arXiv:2410.13732v2")
        assert record is not None and record.title == "Reducing the Transformer Architecture to a Minimum"
        assert client.paper("2410.99999") is None
        with pytest.raises(ValueError, match="not an arXiv id"):
            client.paper("banana")
    assert fake_hf.paths() == ["papers/2410.13732", "papers/2410.99999"]


def test_client_takes_url_and_timeout_from_settings(fake_hf: FakeHF) -> None:
    settings = Settings(HF_API_URL=fake_hf.url.rstrip("/"), PAPERBOT_HTTP_TIMEOUT=3.5)
    with HFClient(settings) as client:
        assert client.base_url == fake_hf.url and client.timeout == 3.5
        assert client.daily(DAY) == []


# ---- which day's list is complete -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (datetime(2025, 11, 25, 3, 0, tzinfo=UTC), date(2025, 11, 23)),  # 22:00 on the 24th in New York
        (datetime(2025, 11, 25, 5, 0, tzinfo=UTC), date(2025, 11, 24)),  # 00:00 on the 25th in New York
        (datetime(2025, 11, 25, 14, 0, tzinfo=UTC), date(2025, 11, 24)),  # a European afternoon
        (datetime(2025, 7, 1, 4, 30, tzinfo=UTC), date(2025, 6, 30)),  # summer time: 00:30 EDT
        (datetime(2025, 7, 1, 3, 30, tzinfo=UTC), date(2025, 6, 29)),  # 23:30 EDT the day before
        (datetime(2025, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), date(2025, 11, 23)),
        (datetime(2025, 11, 25, 14, 0), date(2025, 11, 24)),  # naive: taken as UTC
    ],
)
def test_newest_complete_day_is_yesterday_in_new_york(now: datetime, day: date) -> None:
    assert newest_complete_day(now) == day


def test_client_clock_decides_the_newest_day(fake_hf: FakeHF) -> None:
    with HFClient(fake_hf.url, clock=lambda: datetime(2026, 1, 1, 12, tzinfo=UTC)) as client:
        assert client.newest_complete_day() == date(2025, 12, 31)


def test_requests_name_paperbot_and_its_version_without_an_invented_url(hf: FakeHF) -> None:
    with HFClient(hf.url) as client:
        client.daily(date(2025, 11, 24))
    version = metadata.version("paperbot")
    assert hf.user_agents == [f"paperbot/{version} (Slack reading room for Hugging Face Daily Papers)"]
