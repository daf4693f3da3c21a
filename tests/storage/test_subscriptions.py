"""Subscriptions (add, list, remove, idempotent) and alert claims (one winner per person and day, stale taken over)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_sessions
from storage.digests import LEASE
from storage.subscriptions import (
    add_subscription,
    alert_heartbeat,
    alert_statuses,
    claim_alert,
    finish_alert,
    get_alert,
    list_subscriptions,
    remove_all_subscriptions,
    remove_subscriptions,
    subscribers,
)

DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 25, 6, 0)


def add(sessions: sessionmaker[Session], text: str, user: str = "U1", at: int = 0) -> tuple[int, bool]:
    with sessions.begin() as s:
        added = add_subscription(
            session=s,
            team_id="T1",
            user_id=user,
            text=text,
            filters={"keywords": [text]},
            now=T0 + timedelta(seconds=at),
        )
        return added.number, added.created


def texts(sessions: sessionmaker[Session], user: str = "U1") -> list[str]:
    with sessions.begin() as s:
        return [sub.text for sub in list_subscriptions(session=s, team_id="T1", user_id=user)]


def test_subscriptions_are_numbered_in_creation_order_and_the_same_text_is_one(
    sessions: sessionmaker[Session],
) -> None:
    assert add(sessions, "diffusion", at=0) == (1, True)
    assert add(sessions, "world models", at=1) == (2, True)
    assert add(sessions, "diffusion", at=2) == (1, False)
    assert add(sessions, "Diffusion", at=3) == (1, False)  # case makes no other subscription
    assert add(sessions, "diffusion", user="U2") == (1, True)  # someone else's list is their own
    assert texts(sessions) == ["diffusion", "world models"]
    with sessions.begin() as s:
        people = subscribers(session=s)
    assert [(p.user_id, [x.text for x in p.subscriptions]) for p in people] == [
        ("U1", ["diffusion", "world models"]),
        ("U2", ["diffusion"]),
    ]


def test_remove_by_number_and_all(sessions: sessionmaker[Session]) -> None:
    for i, text in enumerate(["a1", "b2", "c3", "d4"]):
        add(sessions, text, at=i)
    add(sessions, "keep", user="U2")
    with sessions.begin() as s:
        assert remove_subscriptions(session=s, team_id="T1", user_id="U1", numbers=[3, 1, 9]) == ["a1", "c3"]
    assert texts(sessions) == ["b2", "d4"]  # renumbered: b2 is 1 now
    with sessions.begin() as s:
        assert remove_all_subscriptions(session=s, team_id="T1", user_id="U1") == 2
        assert remove_all_subscriptions(session=s, team_id="T1", user_id="U1") == 0
    assert texts(sessions) == [] and texts(sessions, "U2") == ["keep"]


def test_racing_subscribes_of_the_same_text_store_one(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(3)]
    results: list[tuple[int, bool]] = []
    barrier = threading.Barrier(len(engines))

    def worker(i: int) -> None:
        sessions = make_sessions(engines[i])
        barrier.wait()
        results.append(add(sessions, "diffusion"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(1, False), (1, False), (1, True)]
    assert texts(make_sessions(engines[0])) == ["diffusion"]
    for engine in engines:
        engine.dispose()


def claim(sessions: sessionmaker[Session], worker: str, now: datetime = T0) -> str:
    with sessions.begin() as s:
        return claim_alert(session=s, team_id="T1", user_id="U1", day=DAY, worker=worker, now=now).outcome


def test_first_claim_wins_a_live_claim_is_left_alone_a_stale_one_taken_over_once(
    sessions: sessionmaker[Session],
) -> None:
    assert claim(sessions, "a") == "claimed"
    assert claim(sessions, "b", T0 + LEASE / 2) == "busy"
    later = T0 + LEASE + timedelta(seconds=1)
    assert claim(sessions, "rescuer", later) == "resumed"
    assert claim(sessions, "another", later) == "busy"
    with sessions.begin() as s:
        # The dead worker, waking up, may not send: the claim is the rescuer's now.
        assert not alert_heartbeat(session=s, team_id="T1", user_id="U1", day=DAY, worker="a", now=later)
        assert not finish_alert(session=s, team_id="T1", user_id="U1", day=DAY, worker="a", status="sent", ts="1.1")
        assert finish_alert(
            session=s, team_id="T1", user_id="U1", day=DAY, worker="rescuer", status="sent", dm_channel="D1", ts="2.2"
        )
    assert claim(sessions, "c", later + 5 * LEASE) == "done"
    with sessions.begin() as s:
        run = get_alert(session=s, team_id="T1", user_id="U1", day=DAY)
        assert run is not None and (run.status, run.dm_channel, run.ts) == ("sent", "D1", "2.2")
        assert alert_statuses(session=s, day=DAY) == {("T1", "U1"): "sent"}


def test_a_failed_alert_is_not_retried_the_same_day(sessions: sessionmaker[Session]) -> None:
    claim(sessions, "a")
    with sessions.begin() as s:
        assert finish_alert(
            session=s, team_id="T1", user_id="U1", day=DAY, worker="a", status="failed", error="user_disabled"
        )
    assert claim(sessions, "b", T0 + 3 * LEASE) == "failed"
    with sessions.begin() as s:
        run = get_alert(session=s, team_id="T1", user_id="U1", day=DAY)
        assert run is not None and run.error == "user_disabled"


def test_racing_workers_with_their_own_engines_claim_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(engines))

    def worker(i: int) -> None:
        sessions = make_sessions(engines[i])
        barrier.wait()
        outcomes.append(claim(sessions, f"w{i}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "busy", "busy", "claimed"]
    for engine in engines:
        engine.dispose()


def test_racing_rescuers_of_a_stale_claim_take_it_over_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    claim(make_sessions(engines[0]), "dead")
    later = T0 + LEASE + timedelta(minutes=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(len(engines))

    def worker(i: int) -> None:
        sessions = make_sessions(engines[i])
        barrier.wait()
        outcomes.append(claim(sessions, f"r{i}", later))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "busy", "busy", "resumed"]
    for engine in engines:
        engine.dispose()
