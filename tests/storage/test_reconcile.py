"""storage.reconcile's rules against events that land between Slack's answer and its store: an event newer than
the answer wins, a reply newer than the answer is not taken for deleted, a delete is final."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage import votes
from storage.models import Reaction, ReconcileRun, Reply, utcnow
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.reconcile import Changes, PostRef, SlackPost, SlackReply, set_post_state, start_run
from storage.records import PaperRecord

TEAM, CHANNEL, PAPER, POST = "T1", "C1", "2410.13732", "1764150000.000100"
OBSERVED = "1764150500.000000"  # when Slack was asked
BEFORE, AFTER = "1764150400.000000", "1764150600.000000"


@pytest.fixture
def post(sessions: sessionmaker[Session]) -> PostRef:
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")])
        row = record_post(session=session, team_id=TEAM, channel_id=CHANNEL, ts=POST, arxiv_id=PAPER, kind="digest")
        return PostRef(row.id, TEAM, CHANNEL, POST, PAPER)


def key(user: str) -> votes.ReactionKey:
    return votes.ReactionKey(TEAM, CHANNEL, POST, user, "+1")


def reconcile(sessions: sessionmaker[Session], post: PostRef, slack: SlackPost) -> Changes:
    with sessions.begin() as session:
        return set_post_state(session=session, post=post, slack=slack, observed_at=OBSERVED)


def voters(sessions: sessionmaker[Session]) -> set[str]:
    with sessions.begin() as session:
        return set(session.scalars(select(Reaction.user_id)))


def test_a_reaction_event_newer_than_slacks_answer_wins(sessions: sessionmaker[Session], post: PostRef) -> None:
    with sessions.begin() as session:
        votes.add_reaction(session=session, key=key("U1"), arxiv_id=PAPER, event_ts=BEFORE)  # Slack saw it
        votes.add_reaction(session=session, key=key("U2"), arxiv_id=PAPER, event_ts=BEFORE)
        votes.remove_reaction(session=session, key=key("U2"), event_ts=AFTER)  # removed after Slack answered
        votes.add_reaction(session=session, key=key("U3"), arxiv_id=PAPER, event_ts=AFTER)  # added after it
    answer = SlackPost(reactions=frozenset({("U1", "+1"), ("U2", "+1"), ("U4", "+1")}))
    assert reconcile(sessions, post, answer) == Changes(reactions_added=1)
    assert voters(sessions) == {"U1", "U3", "U4"}
    with sessions.begin() as session:  # and an event older than the answer, arriving late, changes nothing
        assert not votes.remove_reaction(session=session, key=key("U4"), event_ts=BEFORE)
        assert not votes.add_reaction(session=session, key=key("U2"), arxiv_id=PAPER, event_ts=BEFORE)
    assert voters(sessions) == {"U1", "U3", "U4"}


def test_replies_newer_than_slacks_answer_and_deleted_ones_are_left_alone(
    sessions: sessionmaker[Session], post: PostRef
) -> None:
    def reply(ts: str, text: str = "hi") -> votes.ReplyKey:
        return votes.ReplyKey(TEAM, CHANNEL, ts, POST, PAPER)

    with sessions.begin() as session:
        votes.record_reply(session=session, key=reply(AFTER), user_id="U1", text="posted after the answer")
        votes.record_reply(session=session, key=reply(BEFORE), user_id="U2", text="old")
        votes.edit_reply(session=session, key=reply(BEFORE), user_id="U2", text="edited after", edited_ts=AFTER)
        votes.delete_reply(session=session, key=reply("1764150450.000000"), user_id="U3")
    answer = SlackPost(
        reactions=frozenset(),
        replies=(
            SlackReply(BEFORE, "U2", "edited before", edited_ts="1764150450.000001"),
            SlackReply("1764150450.000000", "U3", "deleted right after the answer", edited_ts="1764150460.000000"),
        ),
    )
    assert reconcile(sessions, post, answer) == Changes()
    with sessions.begin() as session:
        stored = {r.ts: (r.text, r.deleted) for r in session.scalars(select(Reply))}
    assert stored == {
        AFTER: ("posted after the answer", False),
        BEFORE: ("edited after", False),
        "1764150450.000000": ("", True),
    }


def test_a_run_resumes_only_when_it_stopped_recently(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions.begin() as session:
        assert not start_run(session=session, team_id=TEAM, now=now, resume_since=now).resumed
        session.get_one(ReconcileRun, TEAM).cursor = 7
    with sessions.begin() as session:
        again = start_run(session=session, team_id=TEAM, now=now, resume_since=now)
        assert (again.resumed, again.cursor) == (True, 7)
    with sessions.begin() as session:
        later = start_run(session=session, team_id=TEAM, now=now, resume_since=utcnow())
        assert (later.resumed, later.cursor) == (False, 0)
