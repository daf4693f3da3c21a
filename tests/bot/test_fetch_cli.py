"""`paperbot fetch` end to end: the real command, the loopback Hugging Face, a real database (both backends)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import cli
from bot.config import load_settings
from bot.enrich import enrich_from_arxiv
from bot.ingest import FetchReport, days_between, fetch_days, plan_days
from bot.sources.arxiv import ArxivClient
from bot.sources.hf import HFClient, parse_items
from bot.sources.sample import sample_items
from storage.models import Paper, UpvoteSnapshot
from storage.papers import count_papers, daily_papers, get_paper, upsert_papers
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF, daily_item

Run = Callable[..., Result]  # `paperbot fetch` with these arguments, against the fakes and the test database

MON, SAT, SUN, NEXT_MON = date(2025, 11, 24), date(2025, 11, 29), date(2025, 11, 30), date(2025, 12, 1)


def papers_of(day: date, count: int, upvotes: int = 5) -> list[dict[str, Any]]:
    return [
        daily_item(f"{day:%y%m}.{day.day:02d}{n:03d}", f"Paper {n} of {day}", day, upvotes=upvotes + n)
        for n in range(1, count + 1)
    ]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, fake_hf: FakeHF, fake_arxiv: FakeArxiv) -> Run:
    monkeypatch.chdir(tmp_path)  # no stray .env
    runner = CliRunner()
    env = {
        "DATABASE_URL": db_url,
        "HF_API_URL": fake_hf.url,
        "ARXIV_API_URL": fake_arxiv.url,
        "PAPERBOT_HTTP_TIMEOUT": "5",
    }
    monkeypatch.setenv("PAPERBOT_ARXIV_ENRICH", "1")  # on, as by default (the test suite's default is off)
    return lambda *args: runner.invoke(cli, ["fetch", *args], env=env)


def test_backfill_fills_the_database_and_a_rerun_changes_nothing(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_daily(MON, papers_of(MON, 3))
    fake_hf.set_daily(NEXT_MON, papers_of(NEXT_MON, 60))  # more than one page
    # Tuesday to Sunday stay empty, like a quiet week and a weekend.

    first = run("--since", "2025-11-24", "--until", "2025-12-01")
    assert first.exit_code == 0, first.output
    assert "fetched 8 days (6 empty), 63 papers: 63 inserted, 0 updated, 0 unchanged" in first.output
    with sessions.begin() as session:
        assert count_papers(session=session) == 63
        monday = daily_papers(session=session, day=MON)
        assert [p.title for p in monday] == [f"Paper {n} of {MON}" for n in (3, 2, 1)]  # most upvoted first
        snapshots = select(func.count()).select_from(UpvoteSnapshot).where(UpvoteSnapshot.day == NEXT_MON)
        assert session.scalar(snapshots) == 60  # upvotes kept per list day, for "trending" later

    again = run("--since", "2025-11-24", "--until", "2025-12-01", "--no-progress")
    assert again.exit_code == 0, again.output
    assert "63 papers: 0 inserted, 0 updated, 63 unchanged" in again.output
    assert len(fake_arxiv.requests) == 2  # one a run: arXiv knows none of these made-up ids, so each run asks


def test_fetching_a_day_again_picks_up_new_upvotes(run: Run, fake_hf: FakeHF, sessions: sessionmaker[Session]) -> None:
    fake_hf.set_daily(MON, papers_of(MON, 2))
    assert run("--date", "2025-11-24").exit_code == 0
    fake_hf.set_daily(MON, papers_of(MON, 2, upvotes=50))
    result = run("--date", "2025-11-24")
    assert "fetched 1 day (0 empty), 2 papers: 0 inserted, 2 updated, 0 unchanged" in result.output
    with sessions.begin() as session:
        assert [p.hf_upvotes for p in daily_papers(session=session, day=MON)] == [52, 51]


def test_a_failing_day_keeps_earlier_days_and_says_where_to_resume(
    run: Run, fake_hf: FakeHF, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_daily(SAT, papers_of(SAT, 2))
    # Sunday answers something not worth retrying (so the test needs no backoff).
    fake_hf.fail_next("daily_papers?date=2025-11-30", 403, body='{"error": "Forbidden"}')
    result = run("--since", "2025-11-29", "--until", "2025-12-01")
    assert result.exit_code == 1
    assert "paperbot: 2025-11-30:" in result.output and "HTTP 403 (Forbidden)" in result.output
    assert "1 earlier day stored; resume with --since 2025-11-30 --until 2025-12-01" in result.output
    with sessions.begin() as session:
        assert count_papers(session=session) == 2


def test_a_failing_last_day_is_retried_alone(run: Run, fake_hf: FakeHF) -> None:
    fake_hf.fail_next("daily_papers?date=2025-11-30", 403, body='{"error": "Forbidden"}')
    one_day = run("--date", "2025-11-30")
    assert one_day.exit_code == 1 and "0 earlier days stored; resume with --date 2025-11-30)" in one_day.output
    fake_hf.fail_next("daily_papers?date=2025-11-30", 403, body='{"error": "Forbidden"}')
    last_of_range = run("--since", "2025-11-29", "--until", "2025-11-30")
    assert last_of_range.exit_code == 1
    assert "1 earlier day stored; resume with --date 2025-11-30)" in last_of_range.output


def test_bad_option_combinations_are_one_line_errors(run: Run) -> None:
    both = run("--date", "2025-11-24", "--since", "2025-11-20")
    assert both.exit_code == 1 and "either --date or --since/--until" in both.output
    backwards = run("--since", "2025-11-24", "--until", "2025-11-20")
    assert backwards.exit_code == 1 and "--since 2025-11-24 is after --until 2025-11-20" in backwards.output


def test_plan_days_defaults_to_the_newest_complete_list() -> None:
    assert plan_days(day=None, since=None, until=None, newest=SUN) == [SUN]
    assert plan_days(day=None, since=SAT, until=None, newest=NEXT_MON) == [SAT, SUN, NEXT_MON]
    assert plan_days(day=MON, since=None, until=None, newest=SUN) == [MON]
    assert days_between(MON, MON) == [MON]
    with pytest.raises(ValueError, match="--until needs --since"):
        plan_days(day=None, since=None, until=SUN, newest=SUN)


# ---- arXiv enrichment ----------------------------------------------------------------------------------------

# Real papers the fake arXiv knows (the bundled sample's), listed by the fake HF as HF lists them: no categories.
SEED = sample_items()[:3]
SEED_IDS = [item["paper"]["id"] for item in SEED]


def seed_list(day: date) -> list[dict[str, Any]]:
    return [daily_item(i["paper"]["id"], i["paper"]["title"], day, upvotes=n) for n, i in enumerate(SEED, 1)]


def test_fetch_enriches_from_arxiv_and_a_rerun_asks_nothing(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    first_id = SEED_IDS[0]
    fake_arxiv.papers[first_id].update(
        also=["stat.ML"], doi="10.1234/x.1", comment="12 pages", journal_ref="Proc. X 2025"
    )
    fake_hf.set_daily(MON, [*seed_list(MON), *papers_of(MON, 1)])  # and one paper arXiv does not know

    result = run("--date", "2025-11-24")
    assert result.exit_code == 0, result.output
    assert "4 papers: 4 inserted, 0 updated, 0 unchanged; 3 enriched from arXiv" in result.output
    assert [r["id_list"].split(",") for r in fake_arxiv.requests] == [[*SEED_IDS, "2511.24001"]]  # one request
    with sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=first_id)
        assert paper is not None
        primary = fake_arxiv.papers[first_id]["primary"]
        assert (paper.categories, paper.primary_category) == ([primary, "stat.ML"], primary)
        assert (paper.doi, paper.comments, paper.journal_ref) == ("10.1234/x.1", "12 pages", "Proc. X 2025")
        assert paper.title == SEED[0]["paper"]["title"] and paper.hf_upvotes == 1  # HF's own fields stay
        assert paper.source == "hf"
        assert all(p.categories for p in daily_papers(session=session, day=MON) if p.arxiv_id in SEED_IDS)

    again = run("--date", "2025-11-24", "--no-progress")
    assert "4 papers: 0 inserted, 0 updated, 4 unchanged; 0 enriched from arXiv" in again.output
    # Only the paper arXiv did not know is asked about again; the enriched ones are stored with categories.
    assert [r["id_list"] for r in fake_arxiv.requests[1:]] == ["2511.24001"]


def test_papers_stored_without_categories_are_enriched_when_fetched_again(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_daily(MON, seed_list(MON))
    skipped = run("--date", "2025-11-24", "--no-arxiv")
    assert "3 papers: 3 inserted, 0 updated, 0 unchanged; arXiv skipped" in skipped.output
    assert fake_arxiv.requests == []
    with sessions.begin() as session:
        assert [p.categories for p in daily_papers(session=session, day=MON)] == [[], [], []]

    enriched = run("--date", "2025-11-24")
    assert "3 papers: 0 inserted, 3 updated, 0 unchanged; 3 enriched from arXiv" in enriched.output
    with sessions.begin() as session:
        assert all(p.categories and p.primary_category for p in daily_papers(session=session, day=MON))


def test_arxiv_down_the_fetch_still_stores_the_papers_with_a_clear_warning(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_daily(MON, seed_list(MON))
    fake_arxiv.fail_next(503, times=5)
    result = run("--date", "2025-11-24", "--no-progress")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: arXiv enrichment skipped for 3 papers: gave up on")
    assert "HTTP 503" in warnings[0] and "a later fetch fills them" in warnings[0]
    assert "3 papers: 3 inserted, 0 updated, 0 unchanged; 0 enriched from arXiv (arXiv unavailable)" in result.output
    with sessions.begin() as session:
        assert count_papers(session=session) == 3
    assert len(fake_arxiv.requests) == 2  # the try and its one retry


def four_days_of(fake_hf: FakeHF, count: int) -> list[date]:
    """Monday to Thursday, `count` papers on each day's fake HF list."""
    days = days_between(MON, date(2025, 11, 27))
    for day in days:
        fake_hf.set_daily(day, papers_of(day, count))
    return days


def backfill(fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session], days: list[date]) -> FetchReport:
    with HFClient(fake_hf.url) as hf, ArxivClient(fake_arxiv.url) as arxiv:
        return fetch_days(hf, sessions=sessions, days=days, arxiv=arxiv, progress=False)


def test_a_backfill_asks_arxiv_once_per_hundred_papers(
    fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    days = four_days_of(fake_hf, 30)
    fake_hf.set_daily(MON, [*seed_list(MON), *papers_of(MON, 27)])
    report = backfill(fake_hf, fake_arxiv, sessions, days)
    assert (report.papers, report.enriched, report.stats.inserted) == (120, 3, 120)
    # 120 papers over four days: the days wait for each other so arXiv gets 100 ids, then 20.
    assert [len(r["id_list"].split(",")) for r in fake_arxiv.requests] == [100, 20]
    with sessions.begin() as session:
        assert len(daily_papers(session=session, day=days[-1])) == 30


def test_enrich_from_arxiv_fills_gaps_skips_known_papers_and_survives_arxiv_down(
    fake_arxiv: FakeArxiv, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(ARXIV_API_URL=fake_arxiv.url, DATABASE_URL="sqlite://")
    records = parse_items(seed_list(MON), day=MON)
    records[0].abstract = None
    assert enrich_from_arxiv(settings, records, quick=True) == 3
    assert records[0].abstract and all(r.categories for r in records)

    with sessions.begin() as session:
        upsert_papers(session=session, records=records)
    fresh = parse_items(seed_list(MON), day=MON)
    asked = len(fake_arxiv.requests)
    assert enrich_from_arxiv(settings, fresh, quick=True, sessions=sessions) == 0  # all stored with categories
    assert len(fake_arxiv.requests) == asked and not any(r.categories for r in fresh)

    with socket.socket() as probe:  # a port nothing listens on: arXiv is down
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/query"
    down = load_settings(ARXIV_API_URL=closed, DATABASE_URL="sqlite://")
    with caplog.at_level(logging.WARNING, logger="bot.enrich"):
        assert enrich_from_arxiv(down, fresh, quick=True) == 0
    assert [r.levelname for r in caplog.records if r.name == "bot.enrich"] == ["WARNING"]
    assert "arXiv enrichment skipped for 3 papers: gave up on" in caplog.text
    assert not any(r.categories for r in fresh)


def test_paperbot_arxiv_enrich_0_makes_fetch_skip_arxiv(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hf.set_daily(MON, seed_list(MON))
    monkeypatch.setenv("PAPERBOT_ARXIV_ENRICH", "0")
    result = run("--date", "2025-11-24", "--no-progress")
    assert result.exit_code == 0 and "3 papers: 3 inserted, 0 updated, 0 unchanged; arXiv skipped" in result.output
    assert fake_arxiv.requests == []


def test_papers_stored_with_categories_do_not_count_toward_arxivs_hundred(
    fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    days = four_days_of(fake_hf, 40)
    # Monday's 40 papers were enriched before (e.g. by a snapshot import): arXiv need not hear of them again.
    with sessions.begin() as session:
        upsert_papers(
            session=session,
            records=[replace(r, categories=["cs.LG"]) for r in parse_items(papers_of(MON, 40), day=MON)],
        )
    report = backfill(fake_hf, fake_arxiv, sessions, days)
    assert report.papers == 160
    # 120 papers to ask about: one request of 100 ids, then 20 (counting Monday's would have cut it at 60).
    assert [len(r["id_list"].split(",")) for r in fake_arxiv.requests] == [100, 20]


# ---- single papers, weeks and months, arXiv categories -------------------------------------------------------

ARXIV_ONLY = SEED_IDS[0]  # a real paper the fake arXiv knows and the fake HF does not


def test_fetch_by_id_takes_hf_first_then_arxiv_and_names_what_neither_knows(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    flat = daily_item(SEED_IDS[1], "Known to Hugging Face", MON, upvotes=7)["paper"] | {
        "submittedOnDailyAt": "2025-11-24T13:00:00.000Z"
    }
    fake_hf.set_paper(SEED_IDS[1], flat)
    first = run("--id", f"https://arxiv.org/abs/{ARXIV_ONLY}v1", "--id", SEED_IDS[1], "--id", "2401.99999")
    assert first.exit_code == 0, first.output
    assert (
        "fetched 3 papers by id, 2 papers: 2 inserted, 0 updated, 0 unchanged; 1 enriched from arXiv;"
        " not found on Hugging Face or arXiv: 2401.99999"
    ) in first.output
    assert len(fake_arxiv.requests) == 1  # one request served the paper HF lacks and the enrichment of the other
    with sessions.begin() as session:
        from_arxiv, from_hf = (
            get_paper(session=session, arxiv_id=ARXIV_ONLY),
            get_paper(session=session, arxiv_id=SEED_IDS[1]),
        )
        assert from_arxiv is not None and from_arxiv.source == "arxiv" and from_arxiv.categories
        assert from_hf is not None and (from_hf.source, from_hf.hf_upvotes, from_hf.daily_date) == ("hf", 7, MON)
        assert from_hf.categories  # enriched from arXiv
        assert session.scalar(select(func.count()).select_from(UpvoteSnapshot)) == 0  # today's figures, no list day

    again = run("--id", ARXIV_ONLY, "--id", SEED_IDS[1], "--no-progress")
    assert again.exit_code == 0, again.output
    assert "2 papers: 0 inserted, 0 updated, 2 unchanged" in again.output


def test_fetch_by_id_fails_when_nothing_is_found_or_the_id_is_not_one(run: Run) -> None:
    nothing = run("--id", "2401.99999")
    assert nothing.exit_code == 1 and "paperbot: no paper found for 2401.99999" in nothing.output
    bad = run("--id", "attention is all you need")
    assert bad.exit_code == 1
    assert "--id 'attention is all you need' is not an arXiv id or paper link" in bad.output


def test_fetch_by_id_with_arxiv_down_stores_what_hf_has(
    run: Run, fake_hf: FakeHF, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_paper("2511.00001", daily_item("2511.00001", "On HF", MON)["paper"])
    fake_arxiv.fail_next(503, times=5)
    result = run("--id", "2511.00001", "--id", ARXIV_ONLY)
    assert result.exit_code == 0, result.output
    assert "warning: arXiv did not answer" in result.output
    assert "fetched 2 papers by id, 1 paper: 1 inserted" in result.output
    assert f"not found on Hugging Face or arXiv: {ARXIV_ONLY}" in result.output
    with sessions.begin() as session:
        assert count_papers(session=session) == 1


def test_fetch_a_week_keeps_each_paper_on_its_own_list_day(
    run: Run, fake_hf: FakeHF, sessions: sessionmaker[Session]
) -> None:
    tue, wed = MON + timedelta(days=1), MON + timedelta(days=2)
    fake_hf.set_daily(MON, papers_of(MON, 2))
    fake_hf.set_daily(wed, papers_of(wed, 3))
    fake_hf.set_daily(NEXT_MON, papers_of(NEXT_MON, 4))  # the next week: not fetched
    first = run("--week", "2025-W48", "--no-arxiv")
    assert first.exit_code == 0, first.output
    assert (
        "fetched week 2025-W48 (2 list days), 5 papers: 5 inserted, 0 updated, 0 unchanged; arXiv skipped"
        in first.output
    )
    with sessions.begin() as session:
        assert [len(daily_papers(session=session, day=d)) for d in (MON, tue, wed, NEXT_MON)] == [2, 0, 3, 0]
        days = session.scalars(select(UpvoteSnapshot.day).order_by(UpvoteSnapshot.day)).all()
        assert days == [MON] * 2 + [wed] * 3
    again = run("--week", "2025-W48", "--no-arxiv")
    assert "5 papers: 0 inserted, 0 updated, 5 unchanged" in again.output


def test_fetch_a_month_and_bad_periods(run: Run, fake_hf: FakeHF) -> None:
    fake_hf.set_daily(MON, papers_of(MON, 2))
    fake_hf.set_daily(NEXT_MON, papers_of(NEXT_MON, 1))
    november = run("--month", "2025-11", "--no-arxiv")
    assert november.exit_code == 0 and "fetched month 2025-11 (1 list day), 2 papers: 2 inserted" in november.output
    bad_month = run("--month", "2025-13")
    assert bad_month.exit_code == 1 and "'2025-13' is not a month; write it as YYYY-MM" in bad_month.output
    bad_week = run("--week", "2025-48")
    assert bad_week.exit_code == 1 and "'2025-48' is not an ISO week; write it as YYYY-Www" in bad_week.output


def test_fetch_an_arxiv_category_stores_its_newest_papers(
    run: Run, fake_arxiv: FakeArxiv, sessions: sessionmaker[Session]
) -> None:
    five = run("--category", "cs.LG", "--max", "5")
    assert five.exit_code == 0, five.output
    assert "fetched arXiv category cs.LG, 5 papers: 5 inserted, 0 updated, 0 unchanged" in five.output
    assert fake_arxiv.requests[-1]["search_query"] == "cat:cs.LG"
    assert fake_arxiv.requests[-1]["max_results"] == "5"
    every = run("--category", "cs.LG", "--no-progress")  # fewer than --max exist: one short page, then stop
    assert every.exit_code == 0, every.output
    with sessions.begin() as session:
        stored = session.scalars(select(Paper)).all()
        assert stored and all("cs.LG" in p.categories and p.source == "arxiv" for p in stored)
        total = len(stored)
    assert f"{total} papers: {total - 5} inserted, 0 updated, 5 unchanged" in every.output
    assert len(fake_arxiv.requests) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--category", "cs.LG", "--no-arxiv"], "--category asks arXiv itself; drop --no-arxiv"),
        (["--category", "machine learning"], "--category 'machine learning' is not an arXiv category"),
        (["--week", "2025-W48", "--id", "2410.13732"], "give one of --id, --week, not several"),
        (
            ["--date", "2025-11-24", "--category", "cs.LG"],
            "give one of --date/--since/--until, --category, not several",
        ),
    ],
    ids=["category-without-arxiv", "bad-category", "week-and-id", "date-and-category"],
)
def test_fetch_modes_misused_are_one_line_errors(run: Run, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1 and f"paperbot: {message}" in result.output
