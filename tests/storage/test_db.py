"""Transactions mean the same on both databases; a DATABASE_URL that cannot work is a DatabaseUrlError saying why."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import DatabaseUrlError, bounded, make_engine, make_sessions, reading
from storage.models import Channel, Workspace
from tests.fakes.outage import SqliteOutage


def test_rollback_undoes_work_done_inside_a_released_savepoint(sessions: sessionmaker[Session]) -> None:
    def change_then_fail() -> None:
        with sessions.begin() as session:
            with session.begin_nested():
                session.add(Workspace(team_id="T1"))
            raise RuntimeError("the caller changes its mind after the savepoint was released")

    with pytest.raises(RuntimeError):
        change_then_fail()
    with sessions.begin() as session:
        assert session.scalars(select(Workspace)).all() == []


def test_a_savepoint_rollback_keeps_the_rest_of_the_transaction(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(Workspace(team_id="T1"))
        session.flush()
        nested = session.begin_nested()
        session.add(Workspace(team_id="T2"))
        session.flush()
        nested.rollback()
    with sessions.begin() as session:
        assert [w.team_id for w in session.scalars(select(Workspace))] == ["T1"]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "DATABASE_URL '' is not a database URL"),
        ("paperbot.db", "DATABASE_URL 'paperbot.db' is not a database URL"),
        (
            "mssql+pyodbc://sa:Secr3t@h/db",
            "DATABASE_URL 'mssql+pyodbc://sa:***@h/db' needs a database driver that is "
            "not installed (No module named 'pyodbc')",
        ),
        ("redis://h/0", "DATABASE_URL 'redis://h/0' names a database or driver SQLAlchemy does not know (redis)"),
    ],
)
def test_a_bad_url_is_a_config_error_that_shows_a_good_one(url: str, said: str) -> None:
    with pytest.raises(DatabaseUrlError) as error:
        make_engine(url)
    assert str(error.value).startswith(said)
    assert str(error.value).endswith("write it like sqlite:///paperbot.db or postgresql+psycopg://user@host/db")
    assert "Secr3t" not in str(error.value)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_without_a_driver_connect_through_psycopg(pg_url: str, scheme: str) -> None:
    url = make_url(pg_url).set(drivername=scheme).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_text_a_database_cannot_store_is_cleaned_in_every_statement(sessions: sessionmaker[Session]) -> None:
    """A NUL (PostgreSQL refuses it) and a lone surrogate (no driver encodes it), in one row or many, as a value
    or inside JSON, are stored cleaned on both databases rather than failing the statement."""
    with sessions.begin() as session:
        assert session.execute(text("SELECT :v"), {"v": "a\x00b\ud800c"}).scalar() == "ab\ufffdc"
        session.execute(
            insert(Workspace), [{"team_id": "T\x001", "name": "x\ud800"}, {"team_id": "T2", "name": "fine"}]
        )
        session.add(Channel(team_id="T2", channel_id="C1", filters={"keywords": ["diff\x00usion", "\udfff"]}))
    with sessions.begin() as session:
        assert session.execute(select(Workspace.team_id, Workspace.name).order_by(Workspace.team_id)).all() == [
            ("T1", "x\ufffd"),
            ("T2", "fine"),
        ]
        assert session.scalars(select(Channel.filters)).one() == {"keywords": ["diffusion", "\ufffd"]}


def test_a_new_sqlite_file_and_its_wal_are_private(tmp_path: Path) -> None:
    """The SQLite file holds people's replies: created 0600 whatever the umask, its -wal and -shm alike."""
    path = tmp_path / "paperbot.db"
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x TEXT)"))
            connection.execute(text("INSERT INTO t VALUES ('reply')"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert modes == {"paperbot.db": 0o600, "paperbot.db-wal": 0o600, "paperbot.db-shm": 0o600}


def test_an_existing_sqlite_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_bounded_transaction_waits_on_the_database_no_longer_than_its_bound_and_the_next_waits_as_before(
    engine: Engine, db_url: str
) -> None:
    sqlite = engine.dialect.name == "sqlite"
    wait = "PRAGMA busy_timeout" if sqlite else "SHOW statement_timeout"
    with bounded(0.3), engine.begin() as conn:
        assert str(conn.exec_driver_sql(wait).scalar()) == ("300" if sqlite else "300ms")
        if not sqlite:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "300ms"
    if sqlite:
        locked = SqliteOutage.for_url(db_url)
        with locked, pytest.raises(OperationalError, match="locked"), bounded(0.3), engine.begin() as conn:
            conn.execute(text("SELECT 1"))
    else:
        with pytest.raises(OperationalError, match="statement timeout"), bounded(0.3), engine.begin() as conn:
            conn.execute(text("SELECT pg_sleep(5)"))
    with engine.begin() as conn:  # the pooled connection has its own wait back
        assert str(conn.exec_driver_sql(wait).scalar()) == ("30000" if sqlite else "0")
        if not sqlite:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "0"


def test_a_reading_transaction_needs_no_write_lock(engine: Engine, db_url: str) -> None:
    reads = reading(make_sessions(engine))
    if engine.dialect.name == "sqlite":
        with SqliteOutage.for_url(db_url), bounded(0.3), reads.begin() as session:  # a writer holds the lock
            assert session.execute(text("SELECT count(*) FROM papers")).scalar() == 0
    else:
        with reads.begin() as session:
            assert session.execute(text("SELECT count(*) FROM papers")).scalar() == 0
