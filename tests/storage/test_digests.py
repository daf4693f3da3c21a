"""Claiming digest runs: one winner per (team, channel, date), stale claims taken over, posts remembered."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from storage.channels import digest_channels, get_or_create_channel, update_channel
from storage.db import make_engine, make_sessions
from storage.digests import LEASE, claim_run, fail_run, finish_run, heartbeat, last_run
from storage.models import Paper, utcnow
from storage.posts import posted_arxiv_ids, record_post, run_posts

DAY = date(2026, 11, 25)


def claim(sessions: sessionmaker[Session], worker: str, **kw: Any) -> tuple[str, list[str]]:
    with sessions.begin() as s:
        c = claim_run(
            session=s, team_id="T1", channel_id="C1", day=DAY, worker=worker, plan=kw.pop("plan", ["2411.00001"]), **kw
        )
        return c.outcome, list(c.run.plan)


def test_first_claim_wins_and_a_live_claim_is_left_alone(sessions: sessionmaker[Session]) -> None:
    assert claim(sessions, "a", plan=["x", "y"]) == ("claimed", ["x", "y"])
    # The plan is fixed at claim time: a later worker sees the first plan, not its own.
    assert claim(sessions, "b", plan=["z"]) == ("busy", ["x", "y"])


def test_stale_claim_is_taken_over_once_and_keeps_its_plan(sessions: sessionmaker[Session]) -> None:
    claim(sessions, "dead", plan=["x", "y"])
    later = utcnow() + LEASE + timedelta(seconds=1)
    assert claim(sessions, "rescuer", plan=["z"], now=later) == ("resumed", ["x", "y"])
    assert claim(sessions, "another", plan=["z"], now=later) == ("busy", ["x", "y"])
    # The dead worker, if it wakes up, finds the run is no longer its own.
    with sessions.begin() as s:
        run = last_run(session=s, team_id="T1", channel_id="C1")
        assert run is not None
        assert heartbeat(session=s, run_id=run.id, worker="dead") is False
        assert heartbeat(session=s, run_id=run.id, worker="rescuer") is True


def test_done_runs_are_never_claimed_again(sessions: sessionmaker[Session]) -> None:
    claim(sessions, "a")
    with sessions.begin() as s:
        run = last_run(session=s, team_id="T1", channel_id="C1")
        assert run is not None and finish_run(session=s, run_id=run.id, worker="a")
    assert claim(sessions, "b", now=utcnow() + 2 * LEASE)[0] == "done"


def test_failed_runs_wait_for_explicit_retry_released_ones_resume(sessions: sessionmaker[Session]) -> None:
    claim(sessions, "a")
    with sessions.begin() as s:
        run = last_run(session=s, team_id="T1", channel_id="C1")
        assert run is not None
        fail_run(session=s, run_id=run.id, worker="a", error="not_in_channel", permanent=True)
    assert claim(sessions, "b")[0] == "failed"
    assert claim(sessions, "b", retry_failed=True)[0] == "resumed"
    with sessions.begin() as s:
        run = last_run(session=s, team_id="T1", channel_id="C1")
        assert run is not None
        fail_run(session=s, run_id=run.id, worker="b", error="slack 500", permanent=False)
    # A released claim (transient error) is resumable at once, without waiting for the lease.
    assert claim(sessions, "c")[0] == "resumed"


def test_racing_workers_with_their_own_engines_claim_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(engines))

    def worker(i: int) -> None:
        sessions = make_sessions(engines[i])
        barrier.wait()
        outcomes.append(claim(sessions, f"w{i}")[0])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert sorted(outcomes) == ["busy", "busy", "busy", "claimed"]


def test_posts_remember_papers_per_channel(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(Paper(arxiv_id="2411.00001", title="A", authors=[], categories=[], ai_keywords=[]))
        s.flush()
        claim_outcome = claim_run(session=s, team_id="T1", channel_id="C1", day=DAY, worker="a", plan=[])
        record_post(
            session=s,
            team_id="T1",
            channel_id="C1",
            ts="1.1",
            arxiv_id="2411.00001",
            kind="digest",
            digest_run_id=claim_outcome.run.id,
        )
        record_post(session=s, team_id="T1", channel_id="C1", ts="1.1", arxiv_id="2411.00001", kind="digest")
        assert posted_arxiv_ids(session=s, team_id="T1", channel_id="C1") == {"2411.00001"}
        assert posted_arxiv_ids(session=s, team_id="T1", channel_id="C2") == set()
        assert run_posts(session=s, digest_run_id=claim_outcome.run.id) == {"2411.00001": "1.1"}


def test_channels_created_with_workspace_and_listed_when_enabled(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        get_or_create_channel(session=s, team_id="T9", channel_id="C1")
        get_or_create_channel(session=s, team_id="T9", channel_id="C1")
        update_channel(session=s, team_id="T9", channel_id="C2", digest_enabled=False, digest_size=3)
    with sessions.begin() as s:
        assert [c.channel_id for c in digest_channels(session=s)] == ["C1"]


def test_a_claim_made_with_a_local_clock_is_stored_as_the_same_instant(sessions: sessionmaker[Session]) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    at = datetime(2026, 11, 25, 1, 0, tzinfo=ZoneInfo("America/Los_Angeles"))  # 09:00 UTC
    claim(sessions, "a", now=at)
    # A minute later the claim is fresh, whatever zone the clocks were in (SQLite keeps no offset).
    assert claim(sessions, "b", now=at.astimezone(ZoneInfo("UTC")) + timedelta(minutes=1))[0] == "busy"


def test_only_the_claim_holder_sets_the_header_and_a_release_keeps_the_last_activity(
    sessions: sessionmaker[Session],
) -> None:
    from storage.digests import aware, set_header, unfinished_runs

    claim(sessions, "a")
    with sessions.begin() as s:
        run = last_run(session=s, team_id="T1", channel_id="C1")
        assert run is not None
        assert set_header(session=s, run_id=run.id, worker="intruder", ts="1.1") is False
        assert set_header(session=s, run_id=run.id, worker="a", ts="2.2") is True
        beat = aware(run.heartbeat_at)
        fail_run(session=s, run_id=run.id, worker="a", error="stopped", permanent=False)
    with sessions.begin() as s:
        (run,) = unfinished_runs(session=s, since=utcnow() - timedelta(days=1))
        assert run.header_ts == "2.2" and run.released and aware(run.heartbeat_at) == beat
    assert claim(sessions, "b")[0] == "resumed"  # released: taken over at once, no lease to wait out
