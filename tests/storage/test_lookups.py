"""The team's activity as lookups read it: counts, threads, ranking, and private channels kept inside, on both
databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage.lookups import (
    Ranking,
    Viewer,
    discussed_ids,
    posted_among,
    quoted_replies,
    remember_privacy,
    team_activity,
    team_ranked,
    unknown_channels,
)
from storage.models import Post, Reaction, Reply, Workspace
from storage.papers import upsert_papers
from storage.records import PaperRecord

VOTES = ("+1", "fire")
A, B, C = "2401.00001", "2401.00002", "2401.00003"
PUBLIC, PRIVATE = "CPUB", "CPRIV"


def seed(sessions: sessionmaker[Session]) -> None:
    """Paper A: 2 voters and a reply in a public channel, 3 voters and 2 replies in a private one. Paper B: one
    voter in public. Paper C: never posted."""
    with sessions.begin() as session:
        upsert_papers(
            session=session,
            records=[PaperRecord(arxiv_id=i, title=f"Paper {i}", hf_upvotes=n) for i, n in ((A, 1), (B, 50), (C, 9))],
        )
        session.add(Workspace(team_id="T1", bot_user_id="UBOT"))
        session.flush()
        old = datetime(2026, 1, 1, tzinfo=UTC)
        session.add(Post(team_id="T1", channel_id=PUBLIC, ts="1.0", arxiv_id=A, kind="digest", created_at=old))
        session.add(Post(team_id="T1", channel_id=PRIVATE, ts="2.0", arxiv_id=A, kind="share"))
        session.add(Post(team_id="T1", channel_id=PUBLIC, ts="3.0", arxiv_id=B, kind="digest"))
        for channel, ts, users in ((PUBLIC, "1.0", ("U1", "U2", "UBOT")), (PRIVATE, "2.0", ("U3", "U4", "U5"))):
            for user in users:
                session.add(
                    Reaction(team_id="T1", channel_id=channel, message_ts=ts, user_id=user, emoji="+1", arxiv_id=A)
                )
        session.add(Reaction(team_id="T1", channel_id=PUBLIC, message_ts="1.0", user_id="U1", emoji="eyes", arxiv_id=A))
        session.add(Reaction(team_id="T1", channel_id=PUBLIC, message_ts="3.0", user_id="U1", emoji="fire", arxiv_id=B))
        for channel, thread, ts in ((PUBLIC, "1.0", "1.1"), (PRIVATE, "2.0", "2.1"), (PRIVATE, "2.0", "2.2")):
            session.add(
                Reply(team_id="T1", channel_id=channel, thread_ts=thread, ts=ts, user_id="U9", text="x", arxiv_id=A)
            )
        remember_privacy(session=session, team_id="T1", channel_id=PUBLIC, is_private=False)
        remember_privacy(session=session, team_id="T1", channel_id=PRIVATE, is_private=True)


def test_a_public_channel_sees_only_public_activity(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions.begin() as session:
        seen = team_activity(session=session, viewer=Viewer("T1", PUBLIC), arxiv_ids=[A, C], vote_emoji=VOTES)
    assert (seen[A].votes, seen[A].replies, seen[A].reactions) == (2, 1, {"+1": 2, "eyes": 1})
    assert [(t.channel_id, t.replies) for t in seen[A].threads] == [(PUBLIC, 1)]
    assert not seen[C].discussed


def test_inside_the_private_channel_its_activity_counts_too(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions.begin() as session:
        seen = team_activity(session=session, viewer=Viewer("T1", PRIVATE), arxiv_ids=[A], vote_emoji=VOTES)
    assert (seen[A].votes, seen[A].replies) == (5, 3)
    assert [t.channel_id for t in seen[A].threads] == [PRIVATE, PUBLIC]  # newest post first


def test_a_dm_sees_public_channels_only_and_an_unknown_channel_counts_as_private(
    sessions: sessionmaker[Session],
) -> None:
    seed(sessions)
    with sessions.begin() as session:
        session.add(Post(team_id="T1", channel_id="CNEW", ts="4.0", arxiv_id=C, kind="share"))
    with sessions.begin() as session:
        assert unknown_channels(session=session, team_id="T1", arxiv_ids=[A, C]) == {"CNEW"}
        assert unknown_channels(session=session, team_id="T1", arxiv_ids=None) == {"CNEW"}  # any paper's
        assert unknown_channels(session=session, team_id="T1", arxiv_ids=[]) == set()
        seen = team_activity(session=session, viewer=Viewer("T1"), arxiv_ids=[A, C], vote_emoji=VOTES)
        assert (seen[A].votes, seen[C].discussed) == (2, False)
        assert discussed_ids(session=session, viewer=Viewer("T1"), arxiv_ids=[A, B, C]) == {A, B}
        remember_privacy(session=session, team_id="T1", channel_id="CNEW", is_private=False)
    with sessions.begin() as session:
        assert unknown_channels(session=session, team_id="T1", arxiv_ids=[C]) == set()
        assert discussed_ids(session=session, viewer=Viewer("T1"), arxiv_ids=[C]) == {C}


def test_another_team_sees_nothing(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions.begin() as session:
        seen = team_activity(session=session, viewer=Viewer("T2", PUBLIC), arxiv_ids=[A], vote_emoji=VOTES)
        assert not seen[A].discussed
        assert team_ranked(session=session, viewer=Viewer("T2"), vote_emoji=VOTES, ranking=Ranking(), limit=5) == []


def test_ranking_by_votes_then_replies_then_upvotes_and_by_other_sorts(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions.begin() as session:

        def ranked(viewer: Viewer, **kw: object) -> list[tuple[str, int, int]]:
            return team_ranked(session=session, viewer=viewer, vote_emoji=VOTES, ranking=Ranking(**kw), limit=5)  # type: ignore[arg-type]

        assert ranked(Viewer("T1", PUBLIC)) == [(A, 2, 1), (B, 1, 0)]
        assert ranked(Viewer("T1", PRIVATE)) == [(A, 5, 3), (B, 1, 0)]
        assert ranked(Viewer("T1", PUBLIC), sort="upvotes") == [(B, 1, 0), (A, 2, 1)]
        assert ranked(Viewer("T1", PUBLIC), min_votes=2) == [(A, 2, 1)]
        assert ranked(Viewer("T1", PUBLIC), min_replies=1) == [(A, 2, 1)]
        recent = datetime.now(UTC) - timedelta(days=7)
        assert ranked(Viewer("T1", PUBLIC), posted_since=recent) == [(B, 1, 0)]  # A's public post is old
        assert ranked(Viewer("T1", PUBLIC), channel_id=PRIVATE) == []  # a private channel, asked from outside


def test_tied_votes_are_ranked_by_replies_then_tied_replies_by_hf_upvotes(sessions: sessionmaker[Session]) -> None:
    """Each tie-break beats the newest-post one: the papers are posted oldest first in their expected order."""
    # arxiv_id: (voters, replies, HF upvotes), in the expected order
    papers = {
        "2402.00001": (3, 0, 0),  # most votes: first, whatever else
        "2402.00002": (2, 1, 90),  # tied on votes and replies with the next: more upvotes
        "2402.00003": (2, 1, 5),
        "2402.00004": (2, 0, 500),  # tied on votes, fewer replies: after both, for all its upvotes
        "2402.00005": (2, 0, 0),  # None counts as 0 upvotes
    }
    with sessions.begin() as session:
        upsert_papers(
            session=session,
            records=[PaperRecord(arxiv_id=i, title=i, hf_upvotes=up or None) for i, (_, _, up) in papers.items()],
        )
        session.add(Workspace(team_id="T1", bot_user_id="UBOT"))
        for n, (arxiv_id, (voters, replies, _)) in enumerate(papers.items()):
            ts = f"{n + 1}.0"
            posted = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n)  # later in the list, newer
            session.add(
                Post(team_id="T1", channel_id=PUBLIC, ts=ts, arxiv_id=arxiv_id, kind="digest", created_at=posted)
            )
            for v in range(voters):
                session.add(
                    Reaction(
                        team_id="T1", channel_id=PUBLIC, message_ts=ts, user_id=f"U{v}", emoji="+1", arxiv_id=arxiv_id
                    )
                )
            for r in range(replies):
                session.add(
                    Reply(
                        team_id="T1",
                        channel_id=PUBLIC,
                        thread_ts=ts,
                        ts=f"{n + 1}.{r + 1}",
                        user_id="U9",
                        text="x",
                        arxiv_id=arxiv_id,
                    )
                )
        remember_privacy(session=session, team_id="T1", channel_id=PUBLIC, is_private=False)
    with sessions.begin() as session:
        ranked = team_ranked(session=session, viewer=Viewer("T1", PUBLIC), vote_emoji=VOTES, ranking=Ranking(), limit=9)
        assert ranked == [(i, votes, replies) for i, (votes, replies, _) in papers.items()]
        by_replies = team_ranked(
            session=session, viewer=Viewer("T1", PUBLIC), vote_emoji=VOTES, ranking=Ranking(sort="replies"), limit=9
        )  # replies first, then votes, then upvotes
        assert [i for i, _, _ in by_replies] == ["2402.00002", "2402.00003", "2402.00001", "2402.00004", "2402.00005"]


def test_the_quoted_reply_opens_the_most_voted_visible_thread(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions.begin() as session:  # the bot's reply, a deleted one and an empty one come first, and never count
        for ts, user, text, deleted in (
            ("2.01", "UBOT", "bot", False),
            ("2.02", "U8", "gone", True),
            ("2.03", "U8", " ", False),
        ):
            session.add(
                Reply(
                    team_id="T1",
                    channel_id=PRIVATE,
                    thread_ts="2.0",
                    ts=ts,
                    user_id=user,
                    text=text,
                    deleted=deleted,
                    arxiv_id=A,
                )
            )
        session.add(
            Reply(
                team_id="T1",
                channel_id=PRIVATE,
                thread_ts="2.0",
                ts="2.05",
                user_id="U7",
                text="first take",
                arxiv_id=A,
            )
        )

    def quoted(channel: str) -> tuple[str, str, str] | None:
        with sessions.begin() as session:
            viewer = Viewer("T1", channel)
            seen = team_activity(session=session, viewer=viewer, arxiv_ids=[A, B, C], vote_emoji=VOTES)
            threads = {i: activity.threads for i, activity in seen.items()}
            found = quoted_replies(session=session, team_id="T1", threads=threads, vote_emoji=VOTES)
            assert set(found) <= {A}  # B's thread has no reply, C no thread
            reply = found.get(A)
            return (reply.channel_id, reply.user_id, reply.text) if reply else None

    # Inside the private channel, its thread (3 votes) beats the public one (2: the bot's vote does not count).
    assert quoted(PRIVATE) == (PRIVATE, "U7", "first take")
    assert quoted(PUBLIC) == (PUBLIC, "U9", "x")


def test_posted_among_names_the_papers_a_team_posted_anywhere_and_only_those(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions.begin() as session:
        assert posted_among(session=session, team_id="T1", arxiv_ids=[A, B, C, "2401.09999"]) == {A, B}
        assert posted_among(session=session, team_id="T2", arxiv_ids=[A, B, C]) == set()  # another team's posts
        assert posted_among(session=session, team_id="T1", arxiv_ids=[]) == set()
        # a paper posted in a channel whose privacy is not known yet counts too: that privacy must be learnt
        session.add(Post(team_id="T1", channel_id="CNEW", ts="9.0", arxiv_id=C, kind="share"))
        session.flush()
        assert posted_among(session=session, team_id="T1", arxiv_ids=[C]) == {C}


def test_the_newest_post_breaks_a_tie_whatever_the_servers_zone(
    sessions: sessionmaker[Session], server_zone: Callable[[str], None]
) -> None:
    """Posted 02:30 and 03:00 UTC: read back without a zone (SQLite) as Berlin times, 02:30 falls in the
    spring-forward gap and would count as half an hour *after* 03:00, ranking the older post first."""
    server_zone("Europe/Berlin")  # daylight saving from 2026-03-29 02:00
    older, newer = "2403.00001", "2403.00002"
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=i, title=i) for i in (older, newer)])
        for ts, arxiv_id, minute in (("1.0", older, (2, 30)), ("2.0", newer, (3, 0))):
            posted = datetime(2026, 3, 29, *minute, tzinfo=UTC)
            session.add(
                Post(team_id="T1", channel_id=PUBLIC, ts=ts, arxiv_id=arxiv_id, kind="digest", created_at=posted)
            )
        remember_privacy(session=session, team_id="T1", channel_id=PUBLIC, is_private=False)
    with sessions.begin() as session:
        ranked = team_ranked(session=session, viewer=Viewer("T1", PUBLIC), vote_emoji=VOTES, ranking=Ranking(), limit=9)
    assert [i for i, _, _ in ranked] == [newer, older]
