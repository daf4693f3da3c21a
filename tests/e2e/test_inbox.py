"""The durable event inbox, through the real signed endpoint: what Slack got a 200 for is counted, once, whatever
happens to the process afterwards (SIGKILL, SIGTERM while the database does not answer); what could not be stored
gets no 200; a vote that overtakes its share waits for it; an event nobody can apply is parked and listed."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from bot.inbox import MAX_FAILURES
from storage import inbox
from storage.db import make_engine, make_sessions
from storage.models import Reaction
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from storage.states import InboxState
from storage.votes import paper_activity
from tests.bot.test_cli import paperbot, paperbot_env, script
from tests.bot.test_serve_cli import free_port, slack_env
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

CHANNEL = "C0001"
PAPER = "2410.13732"
POST_TS = "1764150001.000001"


def vote(user: str, ts: str = POST_TS, n: int = 1) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": "+1",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "event_ts": f"1764160000.{n:06d}",
    }


def post_paper(db_url: str, ts: str = POST_TS) -> None:
    engine = make_engine(db_url)
    with make_sessions(engine).begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")])
        record_post(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=ts, arxiv_id=PAPER, kind="digest")
    engine.dispose()


def stored(db_url: str, read: Callable[[Any], int]) -> int:
    engine = make_engine(db_url)
    try:
        with make_sessions(engine).begin() as session:
            return read(session)
    finally:
        engine.dispose()


def votes(db_url: str) -> int:
    return stored(db_url, lambda s: paper_activity(session=s, team_id=TEAM_ID, arxiv_id=PAPER, vote_emoji=["+1"]).votes)


def reaction_rows(db_url: str) -> int:
    return stored(db_url, lambda s: int(s.scalar(select(func.count()).select_from(Reaction)) or 0))


def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.1)


# ---- `paperbot serve --http` as a process -----------------------------------------------------------------------


@contextmanager
def serving(tmp_path: Path, db_url: str, slack: FakeSlack, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`paperbot serve --http` in a process of its own, ready (listening); killed at the end if still running."""
    port = free_port()
    process = subprocess.Popen(
        [script(), "serve", "--http", "--no-scheduler", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=paperbot_env(slack_env(db_url, slack, PAPERBOT_RETRY_WAIT_SCALE="0", **env)),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        assert line, f"serve ended before it listened (exit {process.poll()})"
        if "listening on" in line:
            break
    try:
        yield process, f"http://127.0.0.1:{port}/slack/events"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_every_event_acked_before_a_sigkill_is_counted_once_after_the_restart(
    tmp_path: Path, db_url: str, slack: FakeSlack
) -> None:
    post_paper(db_url)
    acked = 0
    with serving(tmp_path, db_url, slack, PAPERBOT_INBOX_WORKERS="1", PAPERBOT_INBOX_LEASE_SECONDS="1") as (
        process,
        url,
    ):
        sender = SlackSender(url)
        for n in range(80):
            answer = sender.event(vote(f"U{n:04d}", n=n + 1), event_id=f"EvKill{n}")
            acked += answer.status_code == 200
        sender.close()
        process.send_signal(signal.SIGKILL)  # an out-of-memory kill: no handler runs
        process.wait(timeout=30)
    assert acked == 80
    with serving(tmp_path, db_url, slack, PAPERBOT_INBOX_LEASE_SECONDS="1"):
        eventually(lambda: votes(db_url) == acked)
        time.sleep(0.5)  # nothing more arrives: every acked event counted once
        assert (votes(db_url), reaction_rows(db_url)) == (acked, acked)
        counts = stored(db_url, lambda s: inbox.counts(session=s)[InboxState.DONE])
        assert counts == acked


@contextmanager
def database_down(db_url: str) -> Iterator[None]:
    """The database answers no write: SQLite's file held by an exclusive lock; PostgreSQL's inbox and activity
    tables locked by an open transaction. Every write waits until its own timeout (or for ever)."""
    if db_url.startswith("sqlite"):
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(db_url)
    with engine.connect() as connection:
        for attempt in range(10):
            try:  # a worker applying an event holds some of these tables: PostgreSQL may pick us as a deadlock's victim
                connection.execute(
                    text("LOCK TABLE inbox_events, processed_events, workspaces IN ACCESS EXCLUSIVE MODE")
                )
                break
            except OperationalError:
                connection.rollback()
                if attempt == 9:
                    raise
        try:
            yield
        finally:
            connection.rollback()
    engine.dispose()


def test_an_event_that_cannot_be_stored_gets_no_200_and_slacks_retry_counts_once(
    posted_bot: RunningBot, sender: SlackSender, db_url: str
) -> None:
    with database_down(db_url):
        started = time.monotonic()
        refused = sender.event(vote("U0001"), event_id="EvDown")
        assert refused.status_code == 503  # Slack sends it again
        assert time.monotonic() - started < 3.0  # answered within Slack's 3 s, the write's wait bounded
    posted_bot.workers.drain()
    assert votes(db_url) == 0  # nothing counted from an event Slack was not told it got
    assert sender.event(vote("U0001"), event_id="EvDown", retry_num=1).status_code == 200
    assert sender.event(vote("U0001"), event_id="EvDown", retry_num=2).status_code == 200  # a retry too many
    posted_bot.workers.drain()
    assert votes(db_url) == 1


@pytest.fixture
def posted_bot(bot: RunningBot, db_url: str) -> RunningBot:
    post_paper(db_url)
    return bot


def test_a_vote_that_overtakes_its_share_waits_for_it_and_counts(
    bot: RunningBot, sender: SlackSender, db_url: str
) -> None:
    share_ts = "1764150009.000009"
    assert sender.event(vote("U0002", ts=share_ts, n=5), event_id="EvEarlyVote").status_code == 200
    bot.workers.drain()
    assert votes(db_url) == 0  # its message is no paper post yet: the vote waits in the inbox
    shared = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": "U0001",
        "text": f"read this https://arxiv.org/abs/{PAPER}",
        "ts": share_ts,
    }
    upsert_paper = PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")  # known: no fetch needed
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[upsert_paper])
    assert sender.event(shared, event_id="EvShare").status_code == 200
    eventually(lambda: votes(db_url) == 1, timeout=30)


def test_an_event_nobody_can_apply_is_parked_and_listed_by_paperbot_inbox(
    bot: RunningBot, db_url: str, tmp_path: Path
) -> None:
    with bot.deps.sessions.begin() as session:
        inbox.add(
            session=session,
            arrival=inbox.Arrival(
                team_id=TEAM_ID, event_id="EvPoison", event_type="reaction_added", body="{not json", bot_user_id=None
            ),
        )
    bot.deps.inbox_bell.set()
    eventually(lambda: stored(db_url, lambda s: inbox.counts(session=s)[InboxState.PARKED]) == 1, timeout=30)
    shown = paperbot(["inbox", "--json"], cwd=tmp_path, DATABASE_URL=db_url)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["counts"]["parked"] == 1
    [parked] = report["parked"]
    assert (parked["event_id"], parked["type"], parked["attempts"]) == ("EvPoison", "reaction_added", MAX_FAILURES)
    assert parked["reason"].startswith("JSONDecodeError")
    text_report = paperbot(["inbox"], cwd=tmp_path, DATABASE_URL=db_url).stdout
    assert "1 parked" in text_report and "EvPoison" in text_report


def test_sigterm_while_the_database_does_not_answer_ends_the_process_within_the_bound(
    tmp_path: Path, db_url: str, slack: FakeSlack
) -> None:
    post_paper(db_url)
    with serving(tmp_path, db_url, slack) as (process, url):
        sender = SlackSender(url)
        assert sender.event(vote("U0001"), event_id="EvBefore").status_code == 200
        with database_down(db_url):
            assert sender.event(vote("U0002"), event_id="EvDuring").status_code == 503
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=25)  # the bound is 10 s; generous here, for a busy machine
        sender.close()
    assert process.returncode in (0, 128 + signal.SIGTERM)
    with serving(tmp_path, db_url, slack, PAPERBOT_INBOX_LEASE_SECONDS="1"):
        eventually(lambda: votes(db_url) == 1)  # the event acked before: counted, by this process or the last
