"""Commands never wait for events (issue 10, item 2): through the bot's real signed HTTP endpoint, on both
databases, `/papers help` and `/papers search` sent during a flood of events are acked within Slack's 3 s, and
during a database outage (PostgreSQL refusing connections, SQLite locked by another writer) `help` still
answers while what needs the database says plainly that it is not answering, with nothing raised."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.config import Settings
from bot.lanes import DB_UNAVAILABLE
from tests.fakes.outage import PgOutage, SqliteOutage
from tests.fakes.slack import FakeSlack, SlackSender
from tests.running import RunningBot, bot_settings

SLACK_WINDOW = 3.0  # seconds Slack waits for a command's ack
CHANNEL = "C0001"


@dataclass
class Acked:
    text: str
    status: int
    seconds: float
    body: str
    key: str


def command(bot: RunningBot, slack: FakeSlack, text: str) -> Acked:
    """Send `/papers <text>` on a connection of its own (as Slack does) and time its ack."""
    key = uuid.uuid4().hex
    sender = SlackSender(bot.url + "/slack/events")
    try:
        started = time.perf_counter()
        response = sender.command(text, channel=CHANNEL, response_url=slack.response_url(key))
        seconds = time.perf_counter() - started
    finally:
        sender.close()
    return Acked(text, response.status_code, seconds, response.text, key)


def reaction(n: int) -> dict[str, Any]:
    item = {"type": "message", "channel": CHANNEL, "ts": f"1764150001.{n:06d}"}
    return {"type": "reaction_added", "user": f"U{n:05d}", "reaction": "+1", "item": item, "event_ts": f"17641{n}.1"}


@contextmanager
def flood(bot: RunningBot, events: int, senders: int = 40) -> Iterator[list[Future[int]]]:
    """`events` signed reactions sent concurrently from `senders` connections while the block runs."""
    sender = SlackSender(bot.url + "/slack/events")
    pool = ThreadPoolExecutor(max_workers=senders)
    try:
        yield [pool.submit(lambda n: sender.event(reaction(n)).status_code, n) for n in range(events)]
    finally:
        pool.shutdown(wait=True)
        sender.close()


def commands_during(bot: RunningBot, slack: FakeSlack, texts: list[str]) -> list[Acked]:
    """Each command in turn, a little apart, while whatever the caller started goes on."""
    acked = []
    for each in texts:
        acked.append(command(bot, slack, each))
        time.sleep(0.05)
    return acked


def late(acked: list[Acked]) -> list[tuple[str, int, float]]:
    """The commands Slack would have given up on: not a 200, or later than its window."""
    return [(a.text, a.status, round(a.seconds, 2)) for a in acked if a.status != 200 or a.seconds > SLACK_WINDOW]


def answer_at(slack: FakeSlack, key: str, timeout: float = 20.0) -> dict[str, Any]:
    found: dict[str, Any] = slack.wait_for(
        lambda: next((r for r in slack.responses if r["key"] == key), None), timeout=timeout
    )
    return found


def answer_of(slack: FakeSlack, acked: Acked) -> dict[str, Any]:
    """The answer to a command: in its ack's body when it was ready in time (bot.lanes.answer_in_ack), else at
    its response_url."""
    if acked.body.strip():
        body: dict[str, Any] = json.loads(acked.body)
        return body
    return answer_at(slack, acked.key)


@contextmanager
def slow_database(db_url: str, seconds: float) -> Iterator[None]:
    """The table every reaction reads (posts) is locked by another process for `seconds` from the start of the
    block: each event waits on it (a slow database, not a down one; every wait ends within a command's bound)."""
    holder: Callable[[], None]
    if db_url.startswith("sqlite"):
        lock = SqliteOutage.for_url(db_url)
        lock.lock()
        holder = lock.unlock
    else:
        engine = create_engine(db_url)
        connection = engine.connect()
        connection.execute(text("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE"))

        def holder() -> None:
            connection.rollback()
            connection.close()
            engine.dispose()

    release = threading.Timer(seconds, holder)
    release.start()
    try:
        yield
    finally:
        release.join()


def test_help_and_search_are_acked_in_time_during_a_flood_of_events(
    bot: RunningBot, slack: FakeSlack, db_url: str
) -> None:
    with slow_database(db_url, seconds=4), flood(bot, events=300) as sent:
        waiting = sum(not f.done() for f in sent)
        acked = commands_during(bot, slack, ["help", "search x"] * 6)
    assert waiting > 200, "the flood was over before the commands: it proves nothing"
    assert late(acked) == []
    assert all("search" in a.body for a in acked if a.text == "help")  # help is answered in the ack itself
    for searched in (a for a in acked if a.text == "search x"):
        assert answer_of(slack, searched)["response_type"] == "ephemeral"
    statuses = [f.result() for f in sent]
    # Every event is answered: stored (200) or, where the lock outlasts the inbox write's bound (SQLite's lock
    # covers the whole file), 503 so that Slack sends it again. PostgreSQL's lock is on posts only: all stored.
    assert set(statuses) <= {200, 503}
    if not db_url.startswith("sqlite"):
        assert statuses.count(200) == 300


@pytest.fixture
def outage(db_url: str) -> Iterator[PgOutage | SqliteOutage]:
    """The database's outage: a refusing proxy in front of PostgreSQL, a lock held on the SQLite file."""
    if db_url.startswith("sqlite"):
        yield SqliteOutage.for_url(db_url)
        return
    proxy = PgOutage()
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def settings(db_url: str, slack: FakeSlack, outage: PgOutage | SqliteOutage) -> Settings:
    """The bot reaches PostgreSQL through the outage's proxy."""
    return bot_settings(outage.url(db_url) if isinstance(outage, PgOutage) else db_url, slack)


@contextmanager
def down(outage: PgOutage | SqliteOutage) -> Iterator[None]:
    if isinstance(outage, PgOutage):
        outage.refuse()
    else:
        outage.lock()
    try:
        yield
    finally:
        if isinstance(outage, PgOutage):
            outage.restore()
        else:
            outage.unlock()


def test_during_a_database_outage_help_answers_and_what_needs_the_database_says_it_is_not_answering(
    bot: RunningBot, slack: FakeSlack, outage: PgOutage | SqliteOutage, caplog: pytest.LogCaptureFixture
) -> None:
    assert command(bot, slack, "top").status == 200  # the bot is up and has used its database
    texts = ["help", "top", "help", "subscribe transformers", "help", "top", "help"]
    with down(outage), flood(bot, events=60, senders=20):
        acked = commands_during(bot, slack, texts)
        answers = {a.key: answer_of(slack, a) for a in acked if a.text != "help"}
    assert late(acked) == []
    assert all("search" in a.body for a in acked if a.text == "help")  # help needs no database
    said = {a.text: answers[a.key]["text"] for a in acked if a.key in answers}
    assert said["subscribe transformers"] == DB_UNAVAILABLE  # a write: PostgreSQL refuses, SQLite's lock is held
    if isinstance(outage, PgOutage):
        assert said["top"] == DB_UNAVAILABLE
    else:  # a SQLite reader takes no lock (WAL), so a lookup still answers while a writer holds it
        assert said["top"] != DB_UNAVAILABLE and "top" in said
    assert all(answer["response_type"] == "ephemeral" for answer in answers.values())
    raised = [r.getMessage() for r in caplog.records if r.name in ("bot.lanes", "paperbot.bolt")]
    assert [m for m in raised if "listener" in m or "failed after the ack" in m or "failed while answering" in m] == []

    after = command(bot, slack, "subscribe transformers")  # the database is back: it answers again
    assert answer_at(slack, after.key)["text"] != DB_UNAVAILABLE
