"""Engines, sessions and migrations: the one door to the database (callers own the transaction)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from storage.text import first_line, mask_url_passwords, storable, without_nul

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x7061706572626F74  # "paperbot": the advisory-lock key serialising migrations

JOB_TABLE = "apscheduler_jobs"  # APScheduler's job store (bot/scheduler.py)

# Tables that belong to libraries, not to our migrations (APScheduler's job store, Slack OAuth stores).
FOREIGN_TABLES = frozenset({JOB_TABLE, "slack_bots", "slack_installations", "slack_oauth_states"})


READ_ONLY = "paperbot_read_only"  # an execution option: transactions that only read (see reading())
_OWN_BUSY_WAIT = "paperbot_own_busy_wait"  # a pooled SQLite connection's busy timeout while bounded() lends it
PING_WAIT = 2.0  # seconds /healthz waits for the database before it says "unreachable"
PG_CONNECT_TIMEOUT = 5  # seconds to open a PostgreSQL connection (libpq's default is to wait forever)

# How long a transaction begun here may wait on the database (None: the defaults above); see bounded().
_BOUND: ContextVar[float | None] = ContextVar("paperbot_db_bound", default=None)


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Transactions begun inside wait at most `seconds` for SQLite's write lock, and each PostgreSQL statement
    (and lock wait) is cancelled after `seconds`: a command's answer fails fast with OperationalError instead of
    hanging when the database is locked or stuck. Connecting is bounded for everyone (PG_CONNECT_TIMEOUT)."""
    token = _BOUND.set(seconds)
    try:
        yield
    finally:
        _BOUND.reset(token)


GOOD_URLS = "sqlite:///paperbot.db or postgresql+psycopg://user@host/db"


class DatabaseUrlError(ValueError):
    """DATABASE_URL cannot be used; the message shows it (password masked) and how to write it."""


def database_url(url: str) -> URL:
    """DATABASE_URL parsed, `postgres://` and driverless `postgresql://` (as hosting services hand them out) on
    psycopg, the PostgreSQL driver paperbot ships: `database_url("postgres://u@h/db").drivername ==
    "postgresql+psycopg"`. A URL that cannot be parsed is a DatabaseUrlError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise _bad_url(url, "is not a database URL") from None
    except ValueError as exc:  # e.g. a port that is not a number
        raise _bad_url(url, f"is not a valid database URL ({first_line(exc)})") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and enforced foreign keys.
    A URL that is malformed, names an unknown database or a driver that is not installed is a DatabaseUrlError."""
    parsed = database_url(url)
    try:
        return _create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise _bad_url(url, f"names a database or driver SQLAlchemy does not know ({parsed.drivername})") from None
    except ImportError as exc:
        raise _bad_url(
            url,
            f"needs a database driver that is not installed ({first_line(exc)})",
            "paperbot comes with SQLite and PostgreSQL (psycopg), so",
        ) from None
    except ArgumentError as exc:
        raise _bad_url(url, f"is not usable ({first_line(exc)})") from None


def _bad_url(url: str, problem: str, lead: str = "") -> DatabaseUrlError:
    fix = f"{lead} write it like {GOOD_URLS}".strip()
    try:  # SQLAlchemy knows where the password ends (it may hold spaces); a URL it cannot parse gets the pattern
        shown = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        shown = mask_url_passwords(url)
    return DatabaseUrlError(f"DATABASE_URL {shown!r} {problem}; {fix}")


def _storable_json(value: Any) -> str:
    r"""JSON as both databases can store it: `json.dumps` writes a NUL or a lone surrogate as an escape
    (`\u0000`, `\ud800`) that PostgreSQL's jsonb refuses, so the strings are made storable first."""
    return json.dumps(without_nul(value))


def _storable_parameters(parameters: Any) -> Any:
    """Statement parameters with every string storable (see storage.text.storable), whatever their shape: a dict
    or a tuple for one row, a list of those for many. Parameters that need nothing are returned as they are."""
    if isinstance(parameters, dict):
        if not any(isinstance(v, str) and storable(v) is not v for v in parameters.values()):
            return parameters
        return {k: storable(v) if isinstance(v, str) else v for k, v in parameters.items()}
    if isinstance(parameters, tuple):
        if not any(isinstance(v, str) and storable(v) is not v for v in parameters):
            return parameters
        return tuple(storable(v) if isinstance(v, str) else v for v in parameters)
    if isinstance(parameters, list):
        cleaned = [_storable_parameters(row) for row in parameters]
        return parameters if all(a is b for a, b in zip(cleaned, parameters, strict=True)) else cleaned
    return parameters


def _guard_text(engine: Engine) -> None:
    """Nothing a database cannot store reaches it: a NUL (PostgreSQL refuses it) or a lone surrogate (neither
    driver can encode it), from a reply, a command's text or a search, is cleaned in every statement's parameters,
    on both databases alike, so text people wrote is stored (cleaned) rather than lost with an error."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _clean(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> Any:
        return statement, _storable_parameters(parameters)


def _create_engine(url: URL, **kwargs: object) -> Engine:
    kwargs.setdefault("json_serializer", _storable_json)
    engine = _create_backend_engine(url, **kwargs)
    _guard_text(engine)
    return engine


def _create_backend_engine(url: URL, **kwargs: object) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        if url.database not in (None, "", ":memory:") and not url.query.get("uri"):
            path = url.database

            @event.listens_for(engine, "do_connect")
            def _private_file(*_args: Any) -> None:
                create_private(path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # The driver's own transaction handling starts transactions late and lets RELEASE SAVEPOINT commit;
            # we take it over (SQLAlchemy's documented recipe) so transactions and SAVEPOINTs mean what they say.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            # Rows carry ~1-2 KB abstracts: 8 KB pages hold several per page (fewer splits and pages to write).
            # Only takes effect when the file is new (before its first table); existing files keep theirs.
            cursor.execute("PRAGMA page_size=8192")
            if url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        _sqlite_transactions(engine)
        return engine
    return _server_engine(url, **kwargs)


def _sqlite_transactions(engine: Engine) -> None:
    """How a SQLite transaction begins: readers (reading()) take no lock, writers take the write lock up front
    and wait for it as long as the connection's busy timeout, or bounded() says."""

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # A reader takes no lock (WAL: it reads a snapshot, never waits for writers nor they for it).
            conn.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads then writes can fail at
        # once with "database is locked" when another writer got in between, instead of waiting its turn.
        if (seconds := _BOUND.get()) is not None:  # wait for that lock no longer than bounded() allows
            raw = conn.connection.dbapi_connection
            conn.info.setdefault(_OWN_BUSY_WAIT, raw.execute("PRAGMA busy_timeout").fetchone()[0])
            raw.execute(f"PRAGMA busy_timeout = {int(1000 * seconds)}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _sqlite_own_wait(dbapi_conn: Any, record: Any) -> None:
        # A bounded transaction's wait ends with it: the pooled connection gets its own busy timeout back.
        if (own := record.info.pop(_OWN_BUSY_WAIT, None)) is not None:
            dbapi_conn.execute(f"PRAGMA busy_timeout = {int(own)}")


def _server_engine(url: URL, **kwargs: object) -> Engine:
    """PostgreSQL (or another server): connecting times out, and bounded() bounds statements and lock waits."""
    connect_args: dict[str, Any] = {} if "connect_timeout" in url.query else {"connect_timeout": PG_CONNECT_TIMEOUT}
    connect_args.update(kwargs.pop("connect_args", None) or {})  # type: ignore[call-overload]
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "begin")
    def _pg_begin(conn: Any) -> None:
        if (seconds := _BOUND.get()) is not None and conn.dialect.name == "postgresql":
            ms = int(1000 * seconds)  # both in one round trip (SET LOCAL takes one setting a statement)
            conn.exec_driver_sql(
                f"SELECT set_config('statement_timeout', '{ms}', true), set_config('lock_timeout', '{ms}', true)"
            )

    return engine


def create_private(path: str | os.PathLike[str]) -> None:
    """Create the SQLite file at `path` readable by its owner only (0600) if it does not exist yet: it holds
    people's replies. SQLite creates its -wal and -shm files with the database file's permissions. A file that
    exists keeps its own; a path that cannot be created is left for SQLite to report."""
    with contextlib.suppress(OSError):  # FileExistsError included
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600))


def bounded_engine(url: str, seconds: float) -> Engine:
    """A small engine whose every wait ends within about `seconds`: connecting, waiting for a pooled connection,
    for a lock (SQLite's busy timeout; PostgreSQL's lock_timeout) and for a statement (statement_timeout). For a
    write a caller must not be held up by, such as the inbox write Slack's answer waits for."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = make_engine(url, pool_timeout=seconds)

        @event.listens_for(engine, "connect")
        def _busy_timeout(dbapi_conn: Any, _record: Any) -> None:
            # After make_engine's own pragmas: the last busy timeout set on a connection is the one it keeps.
            dbapi_conn.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")

        return engine
    millis = int(seconds * 1000)
    return make_engine(
        url,
        pool_size=4,
        max_overflow=4,
        pool_timeout=seconds,
        connect_args={
            "connect_timeout": max(1, round(seconds)),
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
        },
    )


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory; use it as `with sessions.begin() as session:`."""
    return sessionmaker(engine, expire_on_commit=False)


def reading(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions on the same engine (and connection pool) for transactions that only read. On SQLite they begin
    DEFERRED instead of IMMEDIATE, so they neither take nor wait for the write lock: a search index poll or a
    lookup does not queue behind a writer, nor writers behind them. A write in one fails (SQLite may refuse to
    upgrade the lock), so use them for reads alone. On PostgreSQL they are the same as `sessions`."""
    engine = sessions.kw["bind"]
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """An Alembic config that needs no alembic.ini: migrations ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision` (default: the newest schema)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild SQLite tables (copy, drop, rename). With foreign keys enforced, dropping the
            # old table would fire ON DELETE actions into other tables (posts losing their digest run, saved papers
            # deleted). SQLite ignores this pragma inside a transaction, so it goes before ours begins.
            _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Replicas starting together migrate one at a time; the lock ends with the transaction.
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                _create_job_table(connection)
                if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"migration left {len(broken)} broken foreign key(s), e.g. {broken[0]}")
        finally:
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _create_job_table(connection: Connection) -> None:
    """APScheduler's job table, made here, under the migration lock, if it is missing. APScheduler would make it
    itself when its scheduler starts, but with a check-then-create that two replicas starting together on a new
    PostgreSQL database can both pass (one then dies on a duplicate type). Its columns stay APScheduler's own:
    the table comes from APScheduler's job store, and Alembic never manages it (FOREIGN_TABLES)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    SQLAlchemyJobStore(engine=connection.engine, tablename=JOB_TABLE).jobs_t.create(connection, checkfirst=True)


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    # Straight to the driver: through SQLAlchemy the statement would first open a transaction.
    connection.connection.dbapi_connection.execute(pragma)  # type: ignore[union-attr]


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ping(engine: Engine) -> bool:
    """True while the database answers a trivial query within PING_WAIT seconds (used by /healthz)."""
    try:
        with bounded(PING_WAIT), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False
