"""Shared fixtures: every test that asks for `engine`/`sessions` runs on SQLite *and* PostgreSQL.

PostgreSQL is not optional: when it cannot be reached the PostgreSQL half fails loudly (CI must not skip it).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.sources import arxiv as arxiv_api
from storage.db import make_engine, make_sessions, upgrade
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.clock import FakeClock
from tests.fakes.hf import FakeHF
from tests.fakes.slack import FakeSlack, SlackSender
from tests.running import RunningBot, bot_settings, running_bot

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


# Where Slack, Hugging Face and arXiv are for a test that names no fake: a closed loopback port, so a forgotten
# URL fails at once instead of reaching (or waiting for) the real service. Subprocesses inherit it.
CLOSED = "http://127.0.0.1:9"
OFFLINE_ENV = {
    "SLACK_API_URL": f"{CLOSED}/api/",
    "HF_API_URL": f"{CLOSED}/api/",
    "ARXIV_API_URL": f"{CLOSED}/api/query",
    # arXiv enrichment only where a test asks for it (with a fake arXiv): elsewhere arXiv is the closed port
    # above, and every digest would log a warning about it.
    "PAPERBOT_ARXIV_ENRICH": "0",
    # Retries happen at once; a test that checks a wait passes a recording `sleep` of its own.
    "PAPERBOT_RETRY_WAIT_SCALE": "0",
}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never leave loopback: real services' URLs are replaced by a closed port, and any name lookup of a
    non-loopback host fails the test (the code sees a DNS failure; the test fails at teardown)."""
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if host is not None and name not in LOOPBACK and not name.startswith("127."):
            attempts.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests stay on loopback (asked for {name})")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    assert not attempts, f"the test tried to reach {sorted(set(attempts))}: point it at a loopback fake"


@pytest.fixture(autouse=True)
def arxiv_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The process-wide arXiv turns, fresh for each test and on a fake clock: arXiv's 3-second spacing is
    recorded in `arxiv_clock.sleeps` instead of waited, and no test waits for the turn of the one before."""
    clock = FakeClock()
    monkeypatch.setattr(arxiv_api, "TURNS", arxiv_api.Turns(arxiv_api.INTERVAL, clock=clock, sleep=clock.sleep))
    return clock


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster than per test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test worker's own, migrated once; fails (never skips) if unreachable."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"paperbot_test_{os.getpid()}"  # unique per process: parallel runs and xdist workers never collide
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} is not reachable ({exc.__class__.__name__}):"
            " start it (see README, 'Running the tests') or set TEST_DATABASE_URL",
            pytrace=False,
        )
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database of the parametrised backend, private to this test."""
    if request.param == "sqlite":
        path = tmp_path / "paperbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessions(engine)


# ---- the loopback fakes, shared by unit and end-to-end tests --------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A running loopback Slack Web API."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def hf() -> Iterator[FakeHF]:
    """A running loopback Hugging Face API."""
    fake = FakeHF().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_hf(hf: FakeHF) -> FakeHF:
    """The loopback Hugging Face API, by the name the source and fetch tests use."""
    return hf


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxiv]:
    """A running loopback arXiv API."""
    fake = FakeArxiv().start()
    yield fake
    fake.stop()


# ---- a running bot behind its signed endpoint, for listener tests and whole-app flows -------------------------


@pytest.fixture
def settings(db_url: str, slack: FakeSlack) -> Settings:
    """Settings for a bot on the test database and the loopback Slack; a test module may narrow it."""
    return bot_settings(db_url, slack)


@pytest.fixture
def bot(settings: Settings) -> Iterator[RunningBot]:
    """The real Bolt app behind the real HTTP server."""
    with running_bot(settings) as running:
        yield running


@pytest.fixture
def sender(bot: RunningBot) -> Iterator[SlackSender]:
    """Sends signed requests to the bot's endpoint, as Slack does."""
    client = SlackSender(bot.url + "/slack/events")
    yield client
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Print how many tests passed on each backend, so CI output shows both halves ran."""
    counts = {backend: 0 for backend in BACKENDS}
    for report in terminalreporter.stats.get("passed", []):
        for backend in BACKENDS:
            if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid or f"-{backend}-" in report.nodeid:
                counts[backend] += 1
    terminalreporter.write_line(
        "database backends: " + ", ".join(f"{backend} {n} passed" for backend, n in counts.items())
    )


@pytest.fixture
def server_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """`server_zone("Asia/Tokyo")` makes that the process's local time zone (TZ) until the test ends: SQLite hands
    back stored UTC times without a zone, which `timestamp()` reads as local time."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()
