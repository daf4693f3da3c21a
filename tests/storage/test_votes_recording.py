"""Recording reactions and thread replies from Slack events, on both databases: once per event, in Slack's time
order, and safe when two transactions (two replicas) apply the same thing at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import ProcessedEvent, Reaction, ReactionClock, Reply, Workspace, utcnow
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from storage.votes import (
    Activity,
    ReactionKey,
    ReplyKey,
    add_reaction,
    claim_event,
    delete_reply,
    edit_reply,
    paper_activity,
    prune_event_records,
    record_reply,
    remember_bot_user,
    remove_reaction,
    slack_ts_order,
)

PAPER = "2410.13732"
POST_TS = "1764150001.000001"
VOTES = ("+1", "fire")


@pytest.fixture
def posted(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A paper with one digest post in channel C1 of team T1."""
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="A paper")])
        record_post(session=session, team_id="T1", channel_id="C1", ts=POST_TS, arxiv_id=PAPER, kind="digest")
    return sessions


def activity(sessions: sessionmaker[Session]) -> Activity:
    with sessions.begin() as session:
        return paper_activity(session=session, team_id="T1", arxiv_id=PAPER, vote_emoji=VOTES)


def key(user: str = "U1", emoji: str = "+1") -> ReactionKey:
    return ReactionKey(team_id="T1", channel_id="C1", message_ts=POST_TS, user_id=user, emoji=emoji)


def in_tx(sessions: sessionmaker[Session], change: Callable[[Session], bool]) -> bool:
    with sessions.begin() as session:
        return change(session)


def test_slack_timestamps_sort_in_time_order() -> None:
    assert slack_ts_order("1764150000.0001") == slack_ts_order("1764150000.000100")
    assert slack_ts_order("1764150000.000099") < slack_ts_order("1764150000.0001") < slack_ts_order("1764150001")
    with pytest.raises(ValueError, match="not a Slack timestamp"):
        slack_ts_order("yesterday")


def test_an_event_is_claimed_once_per_team(sessions: sessionmaker[Session]) -> None:
    assert in_tx(sessions, lambda s: claim_event(session=s, team_id="T1", event_id="Ev1")) is True
    assert in_tx(sessions, lambda s: claim_event(session=s, team_id="T1", event_id="Ev1")) is False
    assert in_tx(sessions, lambda s: claim_event(session=s, team_id="T2", event_id="Ev1")) is True


def test_a_claim_rolled_back_with_its_change_can_be_made_again(sessions: sessionmaker[Session]) -> None:
    # A crash between the claim and the commit must leave the event to Slack's retry, not mark it done.
    def claim_then_die() -> None:
        with sessions.begin() as session:
            claim_event(session=session, team_id="T1", event_id="Ev1")
            raise RuntimeError("the process died before committing")

    with pytest.raises(RuntimeError):
        claim_then_die()
    assert in_tx(sessions, lambda s: claim_event(session=s, team_id="T1", event_id="Ev1")) is True


def test_concurrent_transactions_apply_the_same_event_once(posted: sessionmaker[Session]) -> None:
    """Four 'replicas' apply one reaction_added event at the same moment: one vote, one claim."""
    start = threading.Barrier(4)
    results: list[bool] = []

    def replica() -> None:
        start.wait()
        with posted.begin() as session:
            applied = claim_event(session=session, team_id="T1", event_id="EvSame") and add_reaction(
                session=session, key=key(), arxiv_id=PAPER, event_ts="1764150100.000001"
            )
        results.append(applied)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert activity(posted).votes == 1
    with posted.begin() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_reactions_follow_slack_time_not_arrival_order(posted: sessionmaker[Session]) -> None:
    def added(ts: str) -> bool:
        return in_tx(posted, lambda s: add_reaction(session=s, key=key(), arxiv_id=PAPER, event_ts=ts))

    def removed(ts: str) -> bool:
        return in_tx(posted, lambda s: remove_reaction(session=s, key=key(), event_ts=ts))

    assert added("1764150100.000001") is True
    assert added("1764150100.000001") is False  # the same event again
    assert activity(posted).votes == 1
    assert removed("1764150200.000001") is True
    assert added("1764150100.000001") is False  # the add, delivered again after its removal: no resurrection
    assert activity(posted).votes == 0
    assert added("1764150300.000001") is True  # the person votes again, later
    assert removed("1764150200.000001") is False  # the old removal, late: the newer vote stands
    assert activity(posted).votes == 1


def test_a_removal_that_overtakes_its_add_wins(posted: sessionmaker[Session]) -> None:
    assert in_tx(posted, lambda s: remove_reaction(session=s, key=key(), event_ts="1764150200.000001")) is False
    assert (
        in_tx(posted, lambda s: add_reaction(session=s, key=key(), arxiv_id=PAPER, event_ts="1764150100.000001"))
        is False
    )
    assert activity(posted) == Activity(votes=0, reactions={}, replies=0, channels=["C1"])


def test_votes_count_people_and_emoji_separately(posted: sessionmaker[Session]) -> None:
    with posted.begin() as session:
        for n, (user, emoji) in enumerate([("U1", "+1"), ("U1", "fire"), ("U2", "fire"), ("U3", "eyes")]):
            assert add_reaction(session=session, key=key(user, emoji), arxiv_id=PAPER, event_ts=f"1764150100.00000{n}")
    assert in_tx(posted, lambda s: remove_reaction(session=s, key=key("U1", "fire"), event_ts="1764150200.0"))
    shown = activity(posted)
    assert (shown.votes, shown.reactions) == (2, {"+1": 1, "fire": 1, "eyes": 1})


def test_the_bot_user_is_remembered_and_its_reactions_never_count(posted: sessionmaker[Session]) -> None:
    with posted.begin() as session:
        remember_bot_user(session=session, team_id="T1", bot_user_id="UBOT")
        add_reaction(session=session, key=key("UBOT"), arxiv_id=PAPER, event_ts=None)
        add_reaction(session=session, key=key("U1"), arxiv_id=PAPER, event_ts=None)
    assert activity(posted).votes == 1
    with posted.begin() as session:
        assert session.get(Workspace, "T1").bot_user_id == "UBOT"  # type: ignore[union-attr]
        remember_bot_user(session=session, team_id="T1", bot_user_id="UBOT2")  # the app, reinstalled
    with posted.begin() as session:
        assert session.get(Workspace, "T1").bot_user_id == "UBOT2"  # type: ignore[union-attr]


def reply(ts: str = "1764150010.000001") -> ReplyKey:
    return ReplyKey(team_id="T1", channel_id="C1", ts=ts, thread_ts=POST_TS, arxiv_id=PAPER)


def stored_reply(sessions: sessionmaker[Session], ts: str = "1764150010.000001") -> Reply:
    with sessions.begin() as session:
        found = session.scalars(select(Reply).where(Reply.ts == ts)).one()
        session.expunge(found)
        return found


def test_a_reply_is_counted_edited_in_order_and_deleted(posted: sessionmaker[Session]) -> None:
    assert in_tx(posted, lambda s: record_reply(session=s, key=reply(), user_id="U2", text="nice")) is True
    assert in_tx(posted, lambda s: record_reply(session=s, key=reply(), user_id="U2", text="nice")) is False
    assert activity(posted).replies == 1

    def edit(text: str, ts: str) -> bool:
        return in_tx(posted, lambda s: edit_reply(session=s, key=reply(), user_id="U2", text=text, edited_ts=ts))

    assert edit("second edit", "1764150030.000001") is True
    assert edit("first edit", "1764150020.000001") is False  # an older edit, late
    shown = stored_reply(posted)
    assert (shown.text, shown.edited) == ("second edit", True)
    assert in_tx(posted, lambda s: delete_reply(session=s, key=reply(), user_id="U2")) is True
    assert in_tx(posted, lambda s: delete_reply(session=s, key=reply(), user_id="U2")) is False
    assert edit("third edit", "1764150040.000001") is False  # nothing brings a deleted reply back
    assert activity(posted).replies == 0
    assert stored_reply(posted).text == ""  # a deleted message's words are not kept


def test_a_delete_or_edit_arriving_before_the_reply_itself(posted: sessionmaker[Session]) -> None:
    late, edited_first = reply("1764150010.000001"), reply("1764150011.000001")
    assert in_tx(posted, lambda s: delete_reply(session=s, key=late, user_id="U2")) is True
    assert in_tx(posted, lambda s: record_reply(session=s, key=late, user_id="U2", text="hello")) is False
    assert (
        in_tx(
            posted,
            lambda s: edit_reply(
                session=s, key=edited_first, user_id="U3", text="fixed", edited_ts="1764150020.000001"
            ),
        )
        is True
    )
    assert in_tx(posted, lambda s: record_reply(session=s, key=edited_first, user_id="U3", text="typo")) is False
    assert activity(posted).replies == 1
    assert stored_reply(posted, edited_first.ts).text == "fixed"


def test_old_event_records_are_pruned_and_recent_ones_kept(posted: sessionmaker[Session]) -> None:
    with posted.begin() as session:
        claim_event(session=session, team_id="T1", event_id="EvOld")
        add_reaction(session=session, key=key("U1"), arxiv_id=PAPER, event_ts="1764150100.000001")
        session.flush()
        session.get(ProcessedEvent, ("T1", "EvOld")).processed_at = utcnow() - timedelta(hours=3)  # type: ignore[union-attr]
        session.scalars(select(ReactionClock)).one().updated_at = utcnow() - timedelta(hours=3)
        claim_event(session=session, team_id="T1", event_id="EvNew")
    with posted.begin() as session:
        assert prune_event_records(session=session, before=utcnow() - timedelta(hours=2)) == 2
    with posted.begin() as session:
        assert session.scalars(select(ProcessedEvent.event_id)).all() == ["EvNew"]
        assert session.scalar(select(func.count()).select_from(ReactionClock)) == 0
        assert session.scalar(select(func.count()).select_from(Reaction)) == 1  # the vote itself stays
    assert activity(posted).votes == 1


def test_nul_characters_are_dropped_from_replies_and_edits(posted: sessionmaker[Session]) -> None:
    # PostgreSQL refuses NUL in text: storing it as it came failed the reply's whole transaction there.
    assert in_tx(posted, lambda s: record_reply(session=s, key=reply(), user_id="U2", text="a\x00b")) is True
    assert stored_reply(posted).text == "ab"
    assert (
        in_tx(
            posted,
            lambda s: edit_reply(session=s, key=reply(), user_id="U2", text="\x00c\x00", edited_ts="1764150020.000001"),
        )
        is True
    )
    assert stored_reply(posted).text == "c"
    late = reply("1764150011.000001")  # an edit seen before its reply is stored from the edit
    assert (
        in_tx(
            posted, lambda s: edit_reply(session=s, key=late, user_id="U3", text="d\x00", edited_ts="1764150021.000001")
        )
        is True
    )
    assert stored_reply(posted, late.ts).text == "d"
    assert activity(posted).replies == 2
