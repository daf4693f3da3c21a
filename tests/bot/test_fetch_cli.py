"""`paperbot fetch` end to end: the real command, the loopback Hugging Face, a real database (both backends)."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import cli
from bot.ingest import days_between, plan_days
from storage.models import UpvoteSnapshot
from storage.papers import count_papers, daily_papers
from tests.fakes.hf import FakeHF, daily_item

MON, SAT, SUN, NEXT_MON = date(2025, 11, 24), date(2025, 11, 29), date(2025, 11, 30), date(2025, 12, 1)


def papers_of(day: date, count: int, upvotes: int = 5) -> list[dict]:
    return [daily_item(f"{day:%y%m}.{day.day:02d}{n:03d}", f"Paper {n} of {day}", day, upvotes=upvotes + n)
            for n in range(1, count + 1)]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path, db_url: str, fake_hf: FakeHF):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env
    runner = CliRunner()
    env = {"DATABASE_URL": db_url, "HF_API_URL": fake_hf.url, "PAPERBOT_HTTP_TIMEOUT": "5"}
    return lambda *args: runner.invoke(cli, ["fetch", *args], env=env)


def test_backfill_fills_the_database_and_a_rerun_changes_nothing(  # type: ignore[no-untyped-def]
    run, fake_hf: FakeHF, sessions: sessionmaker[Session]
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


def test_fetching_a_day_again_picks_up_new_upvotes(  # type: ignore[no-untyped-def]
    run, fake_hf: FakeHF, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_daily(MON, papers_of(MON, 2))
    assert run("--date", "2025-11-24").exit_code == 0
    fake_hf.set_daily(MON, papers_of(MON, 2, upvotes=50))
    result = run("--date", "2025-11-24")
    assert "fetched 1 day (0 empty), 2 papers: 0 inserted, 2 updated, 0 unchanged" in result.output
    with sessions.begin() as session:
        assert [p.hf_upvotes for p in daily_papers(session=session, day=MON)] == [52, 51]


def test_a_failing_day_keeps_earlier_days_and_says_where_to_resume(  # type: ignore[no-untyped-def]
    run, fake_hf: FakeHF, sessions: sessionmaker[Session]
) -> None:
    fake_hf.set_daily(SAT, papers_of(SAT, 2))
    # Sunday answers something not worth retrying (so the test needs no backoff).
    fake_hf.fail_next("daily_papers?date=2025-11-30", 403, body='{"error": "Forbidden"}')
    result = run("--since", "2025-11-29", "--until", "2025-12-01")
    assert result.exit_code == 1
    assert "paperbot: 2025-11-30:" in result.output and "HTTP 403 (Forbidden)" in result.output
    assert "1 earlier day stored; resume with --since 2025-11-30" in result.output
    with sessions.begin() as session:
        assert count_papers(session=session) == 2


def test_bad_option_combinations_are_one_line_errors(run) -> None:  # type: ignore[no-untyped-def]
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
