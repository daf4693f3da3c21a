"""Reactions, thread replies and shared links, sent into the bot's real HTTP endpoint as Slack sends them (signed,
retried with the same event_id, out of order, to two replicas at once), and read back as people see them
(storage.votes.paper_activity)."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import pytest
from slack_bolt import App
from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from bot import activity
from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps
from bot.inbox import MAX_FAILURES, Workers
from bot.retrying import TRANSACTION_PAUSES
from bot.server import socket_mode_handler
from storage import inbox, votes
from storage.db import make_engine, make_sessions
from storage.models import Post, ProcessedEvent, Reaction, ReactionClock, Reply, Workspace, utcnow
from storage.papers import get_paper, upsert_papers
from storage.posts import find_post, record_post
from storage.records import PaperRecord
from storage.states import InboxState
from storage.votes import Activity, paper_activity
from tests.e2e.test_inbox import database_down
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF
from tests.fakes.slack import APP_TOKEN, BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender
from tests.fakes.socket_mode import FakeSocketMode
from tests.running import RunningBot, bot_settings, running_bot

CHANNEL = "C0001"
PAPER = "2410.13732"
POST_TS = "1764150001.000001"  # the paper's digest message
OTHER_TS = "1764150002.000002"  # a message that is about no paper
_clock = itertools.count(1)


def later() -> str:
    """A Slack event_ts later than every one before it in this process."""
    return f"1764160000.{next(_clock):06d}"


@pytest.fixture
def settings(db_url: str, slack: FakeSlack, hf: FakeHF, fake_arxiv: FakeArxiv) -> Settings:
    """The bot's settings with Hugging Face and arXiv on loopback fakes (a shared link may need a fetch)."""
    return bot_settings(db_url, slack, hf_api_url=hf.url, arxiv_api_url=fake_arxiv.url)


@pytest.fixture
def posted(bot: RunningBot) -> RunningBot:
    """The bot, with one paper posted to CHANNEL by a digest."""
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")])
        record_post(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=POST_TS, arxiv_id=PAPER, kind="digest")
    return bot


class Bot(Protocol):
    """A running bot, whichever way Slack reaches it (RunningBot over HTTP, Listening over Socket Mode)."""

    @property
    def deps(self) -> Deps: ...

    @property
    def app(self) -> App: ...

    @property
    def workers(self) -> Workers: ...


@dataclass
class Listening:
    deps: Deps
    app: App
    workers: Workers


def settle(bot: Bot) -> None:
    """Wait until the inbox's workers applied every stored event that is due (Slack was answered before)."""
    bot.workers.drain()


def seen(bot: Bot, arxiv_id: str = PAPER) -> Activity:
    """The paper's activity as people see it (Show details, export)."""
    settle(bot)
    with bot.deps.sessions.begin() as session:
        return paper_activity(
            session=session, team_id=TEAM_ID, arxiv_id=arxiv_id, vote_emoji=bot.deps.settings.vote_emoji
        )


def reaction(
    added: bool,
    user: str = "U0001",
    emoji: str = "+1",
    ts: str = POST_TS,
    event_ts: str | None = None,
    *,
    timed: bool = True,
) -> dict[str, Any]:
    """A reaction event; `timed=False` leaves out `event_ts`, so only the event id can tell a retry."""
    event = {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": emoji,
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "item_user": BOT_USER_ID,
        "event_ts": event_ts or later(),
    }
    if not timed:
        del event["event_ts"]
    return event


def message(
    text: str, *, user: str | None = "U0002", ts: str | None = None, thread_ts: str | None = POST_TS, **extra: Any
) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": CHANNEL,
        "user": user,
        "text": text,
        "ts": ts or later(),
        "channel_type": "channel",
        "event_ts": later(),
        **extra,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {k: v for k, v in event.items() if v is not None}


def ok(response: Any) -> None:
    assert response.status_code == 200, response.text


# ---- votes -------------------------------------------------------------------------------------------------


def test_a_vote_is_counted_once_when_slack_retries_it(posted: RunningBot, sender: SlackSender) -> None:
    vote = reaction(True)
    ok(sender.event(vote, event_id="EvVote1"))
    ok(sender.event(vote, event_id="EvVote1", retry_num=1))
    ok(sender.event(vote, event_id="EvVote1", retry_num=2, retry_reason="http_error"))
    shown = seen(posted)
    assert (shown.votes, shown.reactions) == (1, {"+1": 1})


def test_votes_count_people_and_skin_tones_are_the_same_vote(posted: RunningBot, sender: SlackSender) -> None:
    for user, emoji in [("U0001", "+1::skin-tone-3"), ("U0002", "fire"), ("U0002", "+1"), ("U0003", "eyes")]:
        ok(sender.event(reaction(True, user=user, emoji=emoji)))
    shown = seen(posted)
    assert shown.votes == 2  # U0001 and U0002; :eyes: is no vote
    assert shown.reactions == {"+1": 2, "fire": 1, "eyes": 1}


def test_a_removed_reaction_stops_counting(posted: RunningBot, sender: SlackSender) -> None:
    ok(sender.event(reaction(True, user="U0001")))
    ok(sender.event(reaction(True, user="U0002")))
    assert seen(posted).votes == 2
    ok(sender.event(reaction(False, user="U0001")))
    shown = seen(posted)
    assert (shown.votes, shown.reactions) == (1, {"+1": 1})


def test_a_retry_after_the_removal_does_not_bring_the_vote_back(posted: RunningBot, sender: SlackSender) -> None:
    vote = reaction(True)
    ok(sender.event(vote, event_id="EvAdd"))
    ok(sender.event(reaction(False), event_id="EvRemove"))
    assert seen(posted).votes == 0
    ok(sender.event(vote, event_id="EvAdd", retry_num=3))
    assert seen(posted).votes == 0


def test_an_add_delivered_only_after_its_removal_does_not_count(posted: RunningBot, sender: SlackSender) -> None:
    # The add's first delivery was lost (the bot answered 500 and crashed), so its retry is the first this
    # database sees of it, and it comes after the removal the person made later.
    vote, unvote = reaction(True), reaction(False)
    ok(sender.event(unvote, event_id="EvRemove"))
    ok(sender.event(vote, event_id="EvAdd", retry_num=1, retry_reason="http_error"))
    assert seen(posted).votes == 0
    ok(sender.event(reaction(True), event_id="EvAddAgain"))  # and the person's new vote, later still, counts
    assert seen(posted).votes == 1


def test_a_retried_add_without_event_ts_after_its_removal_does_not_count(
    posted: RunningBot, sender: SlackSender
) -> None:
    # Without event_ts no clock orders the add and the removal: only the claimed event id tells the retry.
    vote, unvote = reaction(True, timed=False), reaction(False, timed=False)
    ok(sender.event(vote, event_id="EvAdd"))
    assert seen(posted).votes == 1
    ok(sender.event(unvote, event_id="EvRemove"))
    assert seen(posted).votes == 0
    ok(sender.event(vote, event_id="EvAdd", retry_num=1))
    assert seen(posted).votes == 0


@pytest.fixture
def prune_after_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prune after every event, not at most every ten minutes per process (a test would rarely see one)."""
    monkeypatch.setattr(activity, "PRUNE_EVERY", 0.0)
    monkeypatch.setattr(activity, "_PRUNED_AT", [None])


@pytest.mark.usefixtures("prune_after_every_event")
def test_pruning_forgets_old_event_ids_and_keeps_those_slack_may_still_retry(
    posted: RunningBot, sender: SlackSender
) -> None:
    ok(sender.event(reaction(True, user="U0001"), event_id="EvOld"))
    settle(posted)
    with posted.deps.sessions.begin() as session:  # three hours on: Slack stopped retrying EvOld long ago
        gone = utcnow() - timedelta(hours=3)
        session.execute(update(ProcessedEvent).values(processed_at=gone))
        session.execute(update(ReactionClock).values(updated_at=gone))
    vote = reaction(True, user="U0002")
    ok(sender.event(vote, event_id="EvAdd"))
    ok(sender.event(reaction(False, user="U0002"), event_id="EvRemove"))
    settle(posted)  # each event was followed by a prune
    ok(sender.event(vote, event_id="EvAdd", retry_num=2))
    shown = seen(posted)
    assert (shown.votes, shown.reactions) == (1, {"+1": 1})  # U0001's vote stays, U0002's retry is no vote
    with posted.deps.sessions.begin() as session:
        assert sorted(session.scalars(select(ProcessedEvent.event_id))) == ["EvAdd", "EvRemove"]
        assert session.scalar(select(func.count()).select_from(ReactionClock)) == 1  # U0002's


def test_the_bots_own_reaction_never_counts(posted: RunningBot, sender: SlackSender) -> None:
    ok(sender.event(reaction(True, user=BOT_USER_ID)))
    ok(sender.event(reaction(True, user="U0001")))
    assert seen(posted).votes == 1
    with posted.deps.sessions.begin() as session:
        # Stored on the first event, so paper_activity leaves the bot out whatever reaches the database.
        assert session.get(Workspace, TEAM_ID).bot_user_id == BOT_USER_ID  # type: ignore[union-attr]


def test_reactions_on_other_messages_are_ignored(posted: RunningBot, sender: SlackSender) -> None:
    ok(sender.event(reaction(True, ts=OTHER_TS)))
    file_reaction = {**reaction(True), "item": {"type": "file", "file": "F0001"}}
    ok(sender.event(file_reaction))
    assert seen(posted).votes == 0
    with posted.deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Reaction)) == 0


# ---- thread replies ------------------------------------------------------------------------------------------


def stored_reply(bot: Bot, ts: str) -> Reply:
    settle(bot)
    with bot.deps.sessions.begin() as session:
        found = session.scalars(select(Reply).where(Reply.ts == ts)).one()
        session.expunge(found)
        return found


def test_a_thread_reply_is_counted_edited_and_deleted(posted: RunningBot, sender: SlackSender) -> None:
    reply = message("Is the code out?", ts="1764150100.000100")
    ok(sender.event(reply, event_id="EvReply"))
    ok(sender.event(reply, event_id="EvReply", retry_num=1))
    ok(sender.event(message("+1, same question", user="U0003", subtype="thread_broadcast")))
    assert seen(posted).replies == 2

    edited = {**reply, "text": "Is the code out yet?", "edited": {"user": "U0002", "ts": later()}}
    ok(
        sender.event(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": CHANNEL,
                "ts": later(),
                "message": edited,
                "previous_message": reply,
                "event_ts": later(),
            }
        )
    )
    shown = stored_reply(posted, reply["ts"])
    assert (shown.text, shown.edited) == ("Is the code out yet?", True)

    ok(
        sender.event(
            {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "channel": CHANNEL,
                "ts": later(),
                "deleted_ts": reply["ts"],
                "previous_message": edited,
                "event_ts": later(),
            }
        )
    )
    assert seen(posted).replies == 1
    assert stored_reply(posted, reply["ts"]).text == ""


def test_bot_replies_are_not_counted(posted: RunningBot, sender: SlackSender) -> None:
    ok(sender.event(message("I am paperbot", user=BOT_USER_ID, bot_id=BOT_ID)))  # ours
    ok(sender.event(message("CI passed", user="U0BOT9", bot_id="B0009")))  # another app's bot user
    ok(sender.event(message("legacy webhook", user=None, bot_id="B0008", subtype="bot_message")))
    ok(sender.event(message("a person", user="U0004")))
    assert seen(posted).replies == 1


def test_replies_in_other_threads_and_top_level_chatter_are_ignored(posted: RunningBot, sender: SlackSender) -> None:
    ok(sender.event(message("off topic", thread_ts=OTHER_TS)))
    ok(sender.event(message("good morning", thread_ts=None)))
    ok(sender.event(message("joined", thread_ts=None, subtype="channel_join")))
    assert seen(posted).replies == 0
    with posted.deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 0
        assert session.scalar(select(func.count()).select_from(Post)) == 1  # only the digest's post


def test_topic_and_purpose_changes_with_a_paper_link_are_no_shares(posted: RunningBot, sender: SlackSender) -> None:
    # Slack sends these as messages by the person who changed the topic or purpose; nobody shared anything.
    link = "arxiv.org/abs/2410.13732"
    ok(sender.event(message(f"set the channel topic: {link}", thread_ts=None, subtype="channel_topic", topic=link)))
    ok(
        sender.event(
            message(f"set the channel purpose: {link}", thread_ts=None, subtype="channel_purpose", purpose=link)
        )
    )
    assert seen(posted).channels == [CHANNEL]
    with posted.deps.sessions.begin() as session:
        assert session.scalars(select(Post.kind)).all() == ["digest"]


# ---- when storing fails: NUL characters, a database that drops a connection ------------------------------


def test_a_reply_with_a_nul_character_is_stored_without_it(posted: RunningBot, sender: SlackSender) -> None:
    # PostgreSQL refuses NUL in text, and Bolt has answered Slack before the reply is stored: Slack never resends.
    reply = message("look\x00here", ts="1764150100.000300")
    ok(sender.event(reply))
    assert seen(posted).replies == 1
    assert stored_reply(posted, reply["ts"]).text == "lookhere"
    edited = {**reply, "text": "look\x00 there", "edited": {"user": "U0002", "ts": later()}}
    ok(
        sender.event(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": CHANNEL,
                "ts": later(),
                "message": edited,
                "previous_message": reply,
                "event_ts": later(),
            }
        )
    )
    assert stored_reply(posted, reply["ts"]).text == "look there"
    shared = message("arxiv.org/abs/2410.13732\x00 is good", thread_ts=None)
    ok(sender.event(shared))
    post = share_post(posted, shared["ts"])
    assert post is not None and (post.kind, post.arxiv_id) == ("share", PAPER)


def failing(
    monkeypatch: pytest.MonkeyPatch, name: str, error: Callable[[dict[str, Any]], Exception], times: int = 1
) -> list[dict[str, Any]]:
    """Make storage.votes.<name> raise `error(its arguments)` on its first `times` calls, then work; returns every
    call's arguments. Fault injection is the one reason an e2e test replaces our code: a real database cannot be
    made to drop a connection on cue."""
    real = getattr(votes, name)
    calls: list[dict[str, Any]] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) <= times:
            raise error(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(votes, name, flaky)
    return calls


INSERT = "INSERT INTO reactions (team_id, user_id, emoji) VALUES (%(team_id)s, %(user_id)s, %(emoji)s)"
TRANSIENT = {
    "connection-lost": DBAPIError(
        INSERT, {}, Exception("server closed the connection unexpectedly"), connection_invalidated=True
    ),
    "deadlock": OperationalError(INSERT, {}, Exception("deadlock detected")),
    "database-locked": OperationalError(INSERT, {}, sqlite3.OperationalError("database is locked")),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transient_database_error_is_retried_and_the_vote_counted_once(
    posted: RunningBot,
    sender: SlackSender,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    calls = failing(monkeypatch, "add_reaction", lambda _: error)
    vote = reaction(True)
    with caplog.at_level(logging.WARNING):
        ok(sender.event(vote, event_id="EvFlaky"))
        shown = seen(posted)
        ok(sender.event(vote, event_id="EvFlaky", retry_num=1))  # Slack's own retry changes nothing more
        again = seen(posted)
    assert (shown.votes, shown.reactions) == (1, {"+1": 1})
    assert (again.votes, again.reactions) == (1, {"+1": 1})
    assert len(calls) == 2  # the failed attempt and ours; Slack's retry found the event claimed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def reply_error(kind: type[DBAPIError], transient: bool) -> Callable[[dict[str, Any]], Exception]:
    def error(arguments: dict[str, Any]) -> Exception:  # as SQLAlchemy raises it: the reply's text in its parameters
        return kind(
            "INSERT INTO replies (text) VALUES (%(text)s)",
            {"text": arguments["text"]},
            Exception("could not connect to server" if transient else "invalid byte sequence"),
        )

    return error


def test_a_reply_that_keeps_failing_stays_in_the_inbox_and_counts_once_storing_works(
    posted: RunningBot, sender: SlackSender, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    times = 3 * (1 + len(TRANSACTION_PAUSES))  # three tries of the inbox, each with its quick retries
    calls = failing(monkeypatch, "record_reply", reply_error(OperationalError, True), times=times)
    with caplog.at_level(logging.INFO):
        ok(sender.event(message("our secret plan"), event_id="EvLater"))
        wait_for(lambda: len(calls) > times)
        assert seen(posted).replies == 1
    assert "EvLater" in caplog.text and "OperationalError" in caplog.text
    assert "secret" not in caplog.text  # nor in a traceback: SQLAlchemy's errors print their parameters
    with posted.deps.sessions.begin() as session:
        assert inbox.counts(session=session)[InboxState.DONE] == 1


def test_a_reply_the_database_refuses_is_parked_by_event_id_without_its_text(
    posted: RunningBot, sender: SlackSender, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = failing(monkeypatch, "record_reply", reply_error(DataError, False), times=100)
    with caplog.at_level(logging.INFO):
        ok(sender.event(message("our secret plan"), event_id="EvPoison"))
        wait_for(lambda: parked_count(posted) == 1)
        assert seen(posted).replies == 0
    assert len(calls) == MAX_FAILURES
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, problems  # parked: logged once
    assert "EvPoison" in problems[0] and "message" in problems[0] and "DataError" in problems[0]
    assert "secret" not in caplog.text


def parked_count(bot: Bot) -> int:
    with bot.deps.sessions.begin() as session:
        return inbox.counts(session=session)[InboxState.PARKED]


# ---- shared links ------------------------------------------------------------------------------------------


def share_post(bot: Bot, ts: str) -> Post | None:
    settle(bot)
    return share_post_now(bot, ts)


def share_post_now(bot: Bot, ts: str) -> Post | None:
    """The post of message `ts` as stored at this moment (listeners may still be running)."""
    with bot.deps.sessions.begin() as session:
        return find_post(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=ts)


def test_a_shared_link_to_a_known_paper_becomes_a_share(posted: RunningBot, sender: SlackSender) -> None:
    shared = message(
        "worth reading: <https://huggingface.co/papers/2410.13732|HF> and arxiv.org/abs/2306.00356",
        thread_ts=None,
        user="U0005",
    )
    ok(sender.event(shared, event_id="EvShare"))
    ok(sender.event(shared, event_id="EvShare", retry_num=1))
    post = share_post(posted, shared["ts"])
    assert post is not None and (post.kind, post.arxiv_id, post.user_id) == ("share", PAPER, "U0005")
    ok(sender.event(reaction(True, ts=shared["ts"])))  # votes on the share are the paper's votes
    ok(sender.event(message("agreed", thread_ts=shared["ts"])))
    shown = seen(posted)
    assert (shown.votes, shown.replies, shown.channels) == (1, 1, [CHANNEL])


def test_a_shared_paper_nobody_stored_is_fetched_from_hugging_face(
    bot: RunningBot, sender: SlackSender, hf: FakeHF
) -> None:
    hf.set_paper(
        "2502.00001",
        {
            "id": "2502.00001",
            "title": "A Paper From HF",
            "summary": "Abstract.",
            "authors": [{"name": "Ada Lovelace"}],
            "upvotes": 42,
        },
    )
    shared = message("https://arxiv.org/abs/2502.00001v2 is great", thread_ts=None)
    ok(sender.event(shared))
    post = share_post(bot, shared["ts"])
    assert post is not None and (post.kind, post.arxiv_id) == ("share", "2502.00001")
    with bot.deps.sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id="2502.00001")
        assert paper is not None and (paper.title, paper.authors, paper.hf_upvotes) == (
            "A Paper From HF",
            ["Ada Lovelace"],
            42,
        )


def test_a_paper_hugging_face_lacks_is_fetched_from_arxiv(
    bot: RunningBot, sender: SlackSender, hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.add_paper("hep-th/9901001", "Strings, Old Style")
    shared = message("classic: arxiv.org/abs/hep-th/9901001", thread_ts=None)
    ok(sender.event(shared))
    post = share_post(bot, shared["ts"])
    assert post is not None and post.arxiv_id == "hep-th/9901001"
    assert any(r.path == "papers/hep-th/9901001" for r in hf.requests)  # HF was asked first
    with bot.deps.sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id="hep-th/9901001")
        assert paper is not None and paper.title == "Strings, Old Style"


def paper_title(bot: Bot, arxiv_id: str) -> str | None:
    with bot.deps.sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        return None if paper is None else paper.title


def wait_for(condition: Callable[[], bool]) -> None:
    """Wait until `condition` holds: listeners run on Bolt's threads after the ack."""
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, "the bot never got there"
        time.sleep(0.01)


def test_votes_and_replies_on_a_share_count_while_its_paper_is_fetched(
    bot: RunningBot, sender: SlackSender, hf: FakeHF
) -> None:
    hf.set_paper("2502.00004", {"id": "2502.00004", "title": "Worth The Wait"})
    hf.delay_next(2.0)
    shared = message("hf.co/papers/2502.00004", thread_ts=None)
    ok(sender.event(shared))
    wait_for(lambda: "papers/2502.00004" in hf.paths())
    # Hugging Face holds the fetch for two seconds; the share is already there, under a placeholder title.
    assert share_post_now(bot, shared["ts"]) is not None
    assert paper_title(bot, "2502.00004") == "arXiv:2502.00004"
    ok(sender.event(reaction(True, ts=shared["ts"])))
    ok(sender.event(message("first!", thread_ts=shared["ts"])))
    shown = seen(bot, "2502.00004")
    assert (shown.votes, shown.replies) == (1, 1)
    assert paper_title(bot, "2502.00004") == "Worth The Wait"


def test_a_share_nobody_can_fetch_keeps_a_placeholder_title_until_a_later_fetch(
    bot: RunningBot, sender: SlackSender, hf: FakeHF, fake_arxiv: FakeArxiv, caplog: pytest.LogCaptureFixture
) -> None:
    hf.fail_next("papers/", 503)
    fake_arxiv.fail_next(503)
    shared = message("see arxiv.org/abs/2502.99999v2", thread_ts=None)
    with caplog.at_level(logging.WARNING, logger="bot.shares"):
        ok(sender.event(shared))
        post = share_post(bot, shared["ts"])
    assert post is not None and (post.kind, post.arxiv_id) == ("share", "2502.99999")
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.shares"]
    assert len(lines) == 1
    assert "2502.99999" in lines[0] and "placeholder" in lines[0]
    assert "Hugging Face" in lines[0] and "arXiv" in lines[0]
    ok(sender.event(reaction(True, ts=shared["ts"])))
    assert seen(bot, "2502.99999").votes == 1
    assert paper_title(bot, "2502.99999") == "arXiv:2502.99999"

    # Hugging Face is back: the paper's next share fetches it, and the placeholder gets the real values.
    hf.set_paper("2502.99999", {"id": "2502.99999", "title": "Back Online", "authors": [{"name": "Grace Hopper"}]})
    ok(sender.event(message("arxiv.org/abs/2502.99999 again", thread_ts=None, user="U0006")))
    shown = seen(bot, "2502.99999")
    assert (shown.votes, paper_title(bot, "2502.99999")) == (1, "Back Online")
    with bot.deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Post).where(Post.arxiv_id == "2502.99999")) == 2


def test_a_slow_fetch_does_not_hold_up_slacks_ack(bot: RunningBot, sender: SlackSender, hf: FakeHF) -> None:
    hf.set_paper("2502.00002", {"id": "2502.00002", "title": "Slow To Fetch"})
    hf.delay_next(2.5)
    shared = message("hf.co/papers/2502.00002", thread_ts=None)
    ok(sender.event(shared))
    # The answer came while Hugging Face was still holding the fetch: the paper has no title from it yet.
    assert paper_title(bot, "2502.00002") in (None, "arXiv:2502.00002")
    post = share_post(bot, shared["ts"])
    assert post is not None and post.arxiv_id == "2502.00002"
    assert paper_title(bot, "2502.00002") == "Slow To Fetch"


@pytest.fixture
def socket_bot(db_url: str, slack: FakeSlack, hf: FakeHF) -> Iterator[tuple[Listening, FakeSocketMode]]:
    """The bot in Socket Mode (no HTTP endpoint): events come over the loopback WebSocket."""
    fake = FakeSocketMode().start()
    slack.socket_url = fake.url
    settings = bot_settings(db_url, slack, hf_api_url=hf.url, slack_signing_secret=None, slack_app_token=APP_TOKEN)
    engine = make_engine(settings.database_url)
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    app = build_app(deps, socket_mode=True)
    handler = socket_mode_handler(app, APP_TOKEN)
    workers = Workers(deps).start()
    handler.connect()
    assert fake.connected.wait(10), "the bot never opened the Socket Mode connection"
    yield Listening(deps=deps, app=app, workers=workers), fake
    fake.stop()
    handler.close()
    workers.stop()
    deps.close()
    engine.dispose()


def test_a_slow_fetch_does_not_hold_up_the_socket_mode_ack(
    socket_bot: tuple[Listening, FakeSocketMode], hf: FakeHF
) -> None:
    bot, socket = socket_bot
    hf.set_paper("2502.00003", {"id": "2502.00003", "title": "Slow Over The Socket"})
    hf.delay_next(2.5)
    shared = message("hf.co/papers/2502.00003", thread_ts=None)
    envelope = socket.send(
        "events_api",
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event": shared,
            "event_id": "EvSocket",
            "event_time": 1764160000,
        },
    )
    socket.ack_for(envelope)
    assert paper_title(bot, "2502.00003") in (None, "arXiv:2502.00003")  # acked while Hugging Face holds the fetch
    post = share_post(bot, shared["ts"])
    assert post is not None and (post.kind, post.arxiv_id) == ("share", "2502.00003")


def socket_envelope(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": "A0001",
        "type": "event_callback",
        "event": event,
        "event_id": event_id,
        "event_time": 1764160000,
    }


def test_an_event_the_inbox_cannot_store_gets_no_socket_mode_ack_and_its_redelivery_counts_once(
    socket_bot: tuple[Listening, FakeSocketMode], db_url: str
) -> None:
    bot, socket = socket_bot
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")])
        record_post(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=POST_TS, arxiv_id=PAPER, kind="digest")
    vote = reaction(True)
    with database_down(db_url):
        refused = socket.send("events_api", socket_envelope(vote, "EvSocketDown"))
        with pytest.raises(AssertionError, match="no acknowledgement"):
            socket.ack_for(refused, timeout=4)  # no ack: Slack delivers it again
    assert seen(bot).votes == 0
    socket.ack_for(socket.send("events_api", socket_envelope(vote, "EvSocketDown")))  # Slack's redelivery
    assert seen(bot).votes == 1


def test_the_bots_own_links_are_never_shares(bot: RunningBot, sender: SlackSender) -> None:
    ok(sender.event(message("arxiv.org/abs/2410.13732", thread_ts=None, user=BOT_USER_ID, bot_id=BOT_ID)))
    ok(sender.event(message("arxiv.org/abs/2410.13732", thread_ts=None, user="U0BOT9", bot_id="B0009")))
    settle(bot)
    with bot.deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0


# ---- two replicas ------------------------------------------------------------------------------------------


@pytest.fixture
def replica(settings: Settings) -> Iterator[RunningBot]:
    """A second bot process on the same database, behind its own HTTP server."""
    with running_bot(settings) as running:
        yield running


def at_once(*sends: Any) -> None:
    """Run the sends at the same moment (each in its own thread) and check every answer."""
    start = threading.Barrier(len(sends))
    answers: list[Any] = []

    def run(send: Any) -> None:
        start.wait()
        answers.append(send())

    threads = [threading.Thread(target=run, args=(send,)) for send in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        ok(answer)


def test_two_replicas_receiving_the_same_events_apply_them_once(
    posted: RunningBot, replica: RunningBot, sender: SlackSender
) -> None:
    other = SlackSender(replica.url + "/slack/events")
    try:
        reply = message("which dataset?")
        shared = message("arxiv.org/abs/2410.13732", thread_ts=None, user="U0007")
        for n, event in enumerate([reaction(True, user="U0001"), reaction(True, user="U0002"), reply, shared]):
            at_once(
                lambda e=event, n=n: sender.event(e, event_id=f"EvBoth{n}"),
                lambda e=event, n=n: other.event(e, event_id=f"EvBoth{n}", retry_num=1),
            )
        settle(replica)
        shown = seen(posted)
        assert (shown.votes, shown.reactions, shown.replies) == (2, {"+1": 2}, 1)
        with posted.deps.sessions.begin() as session:
            assert session.scalar(select(func.count()).select_from(Post).where(Post.kind == "share")) == 1
    finally:
        other.close()


def test_an_add_and_its_removal_racing_on_two_replicas_end_removed(
    posted: RunningBot, replica: RunningBot, sender: SlackSender
) -> None:
    other = SlackSender(replica.url + "/slack/events")
    try:
        for user in ("U0001", "U0002", "U0003", "U0004"):
            vote, unvote = reaction(True, user=user), reaction(False, user=user)  # the removal is the later one
            at_once(lambda v=vote: sender.event(v), lambda u=unvote: other.event(u))
        settle(replica)
        assert seen(posted).votes == 0
    finally:
        other.close()
