"""The outage fakes do what the fault tests and bench/fault_bench.py rely on: queries fail while the database is
refused or locked and work again after it is restored; the fake Slack fails every call while told to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from storage.db import make_engine, upgrade
from tests.fakes.outage import PgOutage, SqliteOutage, proxied_url
from tests.fakes.slack import BOT_TOKEN, FakeSlack


def test_proxied_url_keeps_everything_but_host_and_port() -> None:
    url = proxied_url("postgresql+psycopg://me:s3cret@db.example:5432/papers?sslmode=disable", 6000)
    assert url == "postgresql+psycopg://me:s3cret@127.0.0.1:6000/papers?sslmode=disable"


def test_postgresql_through_the_proxy_fails_while_refused_and_works_after_restore(pg_url: str) -> None:
    outage = PgOutage()
    port = outage.start()
    engine = create_engine(proxied_url(pg_url, port), connect_args={"connect_timeout": 5})
    try:
        held = engine.connect()
        assert held.execute(text("SELECT 1")).scalar() == 1
        assert outage.connections == 1

        outage.refuse()
        with pytest.raises(OperationalError):
            held.execute(text("SELECT 2"))  # the open connection was cut
        held.close()
        with pytest.raises(OperationalError, match=r"(?i)refused"):
            engine.connect()  # and a new one is refused

        outage.restore()
        assert outage.port == port
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 3")).scalar() == 3
    finally:
        engine.dispose()
        outage.stop()


def test_sqlite_writers_fail_while_locked_and_work_after_unlock(tmp_path: Path) -> None:
    path = tmp_path / "paperbot.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    writer = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        with SqliteOutage.for_url(f"sqlite:///{path}") as outage:
            assert outage.locked
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                writer.execute("BEGIN IMMEDIATE")  # how every transaction of the bot begins
        assert not outage.locked
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("CREATE TABLE after_the_outage (x INTEGER)")
        writer.execute("COMMIT")
    finally:
        writer.close()


def test_fake_slack_fails_every_call_for_the_next_calls_then_answers() -> None:
    slack = FakeSlack().start()
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    try:
        slack.fail_all(status=429, calls=2, retry_after=7)
        answers = [httpx.post(slack.url + method, headers=headers) for method in ("auth.test", "chat.postMessage")]
        assert [(a.status_code, a.headers.get("Retry-After")) for a in answers] == [(429, "7"), (429, "7")]
        assert httpx.post(slack.url + "auth.test", headers=headers).json()["ok"] is True

        slack.fail_all(status=503, seconds=600, methods={"chat.postMessage"})
        assert httpx.post(slack.url + "chat.postMessage", headers=headers).status_code == 503
        assert httpx.post(slack.url + "auth.test", headers=headers).status_code == 200  # not a covered method
        slack.end_outages()
        assert httpx.post(slack.url + "chat.postMessage", headers=headers).status_code == 200

        slack.fail_all(status=500, seconds=0)  # a window that is already over fails nothing
        assert httpx.post(slack.url + "auth.test", headers=headers).status_code == 200
    finally:
        slack.stop()
