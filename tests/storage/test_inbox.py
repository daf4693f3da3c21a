"""storage.inbox on both databases: a retried event is one row; a leased row is nobody else's until its lease
ends; handed-back, retried, parked and pruned rows end where a worker and `paperbot inbox` expect them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage import inbox
from storage.models import utcnow
from storage.states import InboxState

LEASE = timedelta(seconds=30)


def arrival(event_id: str) -> inbox.Arrival:
    return inbox.Arrival(
        team_id="T1",
        event_id=event_id,
        event_type="reaction_added",
        body='{"type": "event_callback"}',
        bot_user_id="UB",
    )


def add(sessions: sessionmaker[Session], *event_ids: str) -> list[bool]:
    with sessions.begin() as session:
        return [inbox.add(session=session, arrival=arrival(event_id)) for event_id in event_ids]


def take(sessions: sessionmaker[Session], owner: str, **kwargs: object) -> list[str]:
    with sessions.begin() as session:
        return [row.event_id for row in inbox.take(session=session, owner=owner, lease=LEASE, limit=10, **kwargs)]  # type: ignore[arg-type]


def test_slacks_retry_of_a_stored_event_is_the_same_row(sessions: sessionmaker[Session]) -> None:
    assert add(sessions, "Ev1", "Ev1", "Ev2") == [True, False, True]
    with sessions.begin() as session:
        assert inbox.counts(session=session) == {InboxState.PENDING: 2, InboxState.DONE: 0, InboxState.PARKED: 0}


def test_a_leased_row_is_taken_by_nobody_else_until_its_lease_ends(sessions: sessionmaker[Session]) -> None:
    add(sessions, "Ev1", "Ev2")
    assert take(sessions, "a") == ["Ev1", "Ev2"]
    assert take(sessions, "b") == []  # a's lease holds
    assert take(sessions, "b", now=utcnow() + LEASE + timedelta(seconds=1)) == ["Ev1", "Ev2"]  # a died


def test_rows_handed_back_retried_parked_and_finished(sessions: sessionmaker[Session]) -> None:
    add(sessions, "Ev1", "Ev2", "Ev3", "Ev4")
    with sessions.begin() as session:
        rows = {row.event_id: row for row in inbox.take(session=session, owner="a", lease=LEASE, limit=10)}
    with sessions.begin() as session:
        inbox.finish(session=session, row_id=rows["Ev1"].id)
        later = utcnow() + timedelta(minutes=5)
        assert inbox.retry_at(session=session, row_id=rows["Ev2"].id, owner="a", when=later, error="locked")
        assert not inbox.retry_at(session=session, row_id=rows["Ev3"].id, owner="b", when=later, error="not b's")
        inbox.park(session=session, row_id=rows["Ev3"].id, reason="DataError (bad value)")
        assert inbox.release(session=session, owner="a") == 1  # Ev4, still in flight
    assert take(sessions, "b") == ["Ev4"]  # Ev2 waits for its next try; Ev1 is done, Ev3 parked
    with sessions.begin() as session:
        assert inbox.counts(session=session) == {InboxState.PENDING: 2, InboxState.DONE: 1, InboxState.PARKED: 1}
        [parked] = inbox.parked(session=session)
        assert (parked.event_id, parked.last_error) == ("Ev3", "DataError (bad value)")
        assert inbox.prune(session=session, before=utcnow() + timedelta(seconds=1)) == 1  # the done row only
        assert inbox.counts(session=session)[InboxState.PARKED] == 1


def test_two_workers_taking_at_once_never_take_the_same_row(sessions: sessionmaker[Session]) -> None:
    add(sessions, *(f"Ev{n}" for n in range(20)))
    first = sessions()
    first.begin()
    try:
        mine = [row.event_id for row in inbox.take(session=first, owner="a", lease=LEASE, limit=5)]
        if first.get_bind().dialect.name == "postgresql":  # SQLite's writers take turns: the second waits instead
            theirs = take(sessions, "b")  # while a's transaction still holds its rows
            assert len(theirs) == 10 and not set(mine) & set(theirs)
        first.commit()
    finally:
        first.close()
    assert len(mine) == 5
    assert len(take(sessions, "c")) == (5 if sessions().get_bind().dialect.name == "postgresql" else 10)
