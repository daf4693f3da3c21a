"""Reading lists and a paper's team activity, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage.models import Post, Reaction, Reply, Workspace
from storage.papers import upsert_papers
from storage.records import PaperRecord
from storage.saved import count_saved, is_saved, mark_read, save_paper, saved_entries, saved_papers, unsave_paper
from storage.votes import paper_activity, votes_by

VOTES = ("+1", "fire")


def add_papers(sessions: sessionmaker[Session], *ids: str) -> None:
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=i, title=f"Paper {i}") for i in ids])


def test_saving_twice_keeps_one_and_lists_newest_first(sessions: sessionmaker[Session]) -> None:
    add_papers(sessions, "2401.00001", "2401.00002")
    with sessions.begin() as session:
        assert save_paper(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00001") is True
        assert save_paper(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00002") is True
        assert save_paper(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00001") is False
    with sessions.begin() as session:
        listed = [p.arxiv_id for p in saved_papers(session=session, team_id="T1", user_id="U1")]
        assert listed == ["2401.00002", "2401.00001"]
        assert saved_papers(session=session, team_id="T1", user_id="U2") == []  # lists are personal
        assert is_saved(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00002")
        assert unsave_paper(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00002") is True
        assert unsave_paper(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00002") is False
        assert not is_saved(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00002")


def test_read_state_flips_lists_unread_first_and_keeps_the_first_read_moment(sessions: sessionmaker[Session]) -> None:
    add_papers(sessions, "2401.00001", "2401.00002", "2401.00003")
    with sessions.begin() as session:
        for i in ("2401.00001", "2401.00002", "2401.00003"):
            save_paper(session=session, team_id="T1", user_id="U1", arxiv_id=i)
    first = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with sessions.begin() as session:
        assert mark_read(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00003", read=True, now=first)
        later = first + timedelta(days=1)  # a double click: the paper was read at the first moment
        assert not mark_read(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00003", read=True, now=later)
        assert not mark_read(session=session, team_id="T1", user_id="U2", arxiv_id="2401.00003", read=True)  # not U2's
        assert not mark_read(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00001", read=False)
    with sessions.begin() as session:
        entries = saved_entries(session=session, team_id="T1", user_id="U1", limit=10)
        assert [e.paper.arxiv_id for e in entries][-1] == "2401.00003"  # read ones last
        assert entries[-1].read_at is not None and entries[-1].read_at.replace(tzinfo=UTC) == first
        assert count_saved(session=session, team_id="T1", user_id="U1") == (3, 2)
        assert mark_read(session=session, team_id="T1", user_id="U1", arxiv_id="2401.00003", read=False)
    with sessions.begin() as session:
        assert count_saved(session=session, team_id="T1", user_id="U1") == (3, 3)


def test_own_votes_are_one_entry_per_paper_newest_first(sessions: sessionmaker[Session]) -> None:
    add_papers(sessions, "2401.00001", "2401.00002")
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with sessions.begin() as session:
        for n, (arxiv_id, emoji) in enumerate([("2401.00001", "+1"), ("2401.00002", "fire"), ("2401.00001", "fire")]):
            session.add(
                Reaction(
                    team_id="T1",
                    channel_id="C1",
                    message_ts=f"1.{arxiv_id[-1]}",
                    user_id="U1",
                    emoji=emoji,
                    arxiv_id=arxiv_id,
                    created_at=start + timedelta(minutes=n),
                )
            )
        session.add(
            Reaction(team_id="T1", channel_id="C1", message_ts="1.2", user_id="U1", emoji="eyes", arxiv_id="2401.00002")
        )
        session.add(
            Reaction(team_id="T1", channel_id="C1", message_ts="1.2", user_id="U2", emoji="+1", arxiv_id="2401.00002")
        )
    with sessions.begin() as session:
        votes = votes_by(session=session, team_id="T1", user_id="U1", vote_emoji=VOTES, limit=10)
        assert [(v.paper.arxiv_id, v.emoji) for v in votes] == [
            ("2401.00001", ["+1", "fire"]),
            ("2401.00002", ["fire"]),
        ]
        assert votes_by(session=session, team_id="T1", user_id="U1", vote_emoji=VOTES, limit=1)[0].emoji == [
            "+1",
            "fire",
        ]


def test_activity_counts_distinct_voters_live_replies_and_channels(sessions: sessionmaker[Session]) -> None:
    add_papers(sessions, "2401.00001", "2401.00002")
    with sessions.begin() as session:
        session.add(Workspace(team_id="T1", bot_user_id="UBOT"))
        session.flush()
        # The bot's own reaction and reply, and a reply without a user (a bot or system message), never count.
        session.add(
            Reaction(team_id="T1", channel_id="C1", message_ts="1.0", user_id="UBOT", emoji="+1", arxiv_id="2401.00001")
        )
        session.add(
            Reply(
                team_id="T1",
                channel_id="C1",
                thread_ts="1.0",
                ts="1.5",
                user_id="UBOT",
                text="bot",
                arxiv_id="2401.00001",
            )
        )
        session.add(
            Reply(
                team_id="T1",
                channel_id="C1",
                thread_ts="1.0",
                ts="1.6",
                user_id=None,
                text="sys",
                arxiv_id="2401.00001",
            )
        )
        for channel, ts in (("C1", "1.0"), ("C2", "2.0")):
            session.add(Post(team_id="T1", channel_id=channel, ts=ts, arxiv_id="2401.00001", kind="digest"))
        session.add(Post(team_id="T2", channel_id="C9", ts="9.0", arxiv_id="2401.00001", kind="digest"))
        reactions = [
            ("C1", "1.0", "U1", "+1"),
            ("C1", "1.0", "U1", "fire"),
            ("C2", "2.0", "U1", "+1"),
            ("C2", "2.0", "U2", "fire"),
            ("C2", "2.0", "U3", "eyes"),
        ]
        for channel, ts, user, emoji in reactions:
            session.add(
                Reaction(
                    team_id="T1", channel_id=channel, message_ts=ts, user_id=user, emoji=emoji, arxiv_id="2401.00001"
                )
            )
        session.add(
            Reaction(team_id="T2", channel_id="C9", message_ts="9.0", user_id="U9", emoji="+1", arxiv_id="2401.00001")
        )
        session.add(
            Reply(
                team_id="T1", channel_id="C1", thread_ts="1.0", ts="1.1", user_id="U2", text="a", arxiv_id="2401.00001"
            )
        )
        session.add(
            Reply(
                team_id="T1",
                channel_id="C1",
                thread_ts="1.0",
                ts="1.2",
                user_id="U2",
                text="b",
                deleted=True,
                arxiv_id="2401.00001",
            )
        )
    with sessions.begin() as session:
        activity = paper_activity(session=session, team_id="T1", arxiv_id="2401.00001", vote_emoji=VOTES)
        other = paper_activity(session=session, team_id="T1", arxiv_id="2401.00002", vote_emoji=VOTES)
    assert activity.votes == 2  # U1 (twice, three reactions) and U2; U3's :eyes: is no vote; T2 is elsewhere
    assert activity.reactions == {"+1": 1, "fire": 2, "eyes": 1}
    assert activity.replies == 1
    assert activity.channels == ["C1", "C2"]
    assert (other.votes, other.replies, other.channels) == (0, 0, [])
