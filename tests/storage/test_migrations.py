"""The schema comes from Alembic alone, and the migrations build it on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from storage.db import FOREIGN_TABLES, alembic_config, current_revision, make_engine, upgrade
from storage.models import Base
from tests.conftest import PG_ADMIN_URL

EXPECTED_TABLES = {"workspaces", "channels", "papers", "upvote_snapshots", "posts", "reactions", "replies",
                   "saved_papers",
                   "digest_runs"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A truly empty database (not the pre-migrated template) of each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"paperbot_empty_{abs(hash(request.node.nodeid)) % 10**8}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_upgrade_builds_every_table_from_empty_and_is_idempotent(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert set(inspect(empty_engine).get_table_names()) >= EXPECTED_TABLES
    upgrade(empty_engine)  # a second upgrade is a no-op
    assert current_revision(empty_engine) == head_revision()


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    config = alembic_config(empty_engine.url.render_as_string(hide_password=False))
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not EXPECTED_TABLES & set(inspect(empty_engine).get_table_names())
    upgrade(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) >= EXPECTED_TABLES


def test_models_and_migrations_agree(empty_engine: Engine) -> None:
    """A model change without a migration shows up here as a non-empty diff."""
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True,
                  "include_object": lambda obj, name, type_, *_: not (type_ == "table" and name in FOREIGN_TABLES)},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_replicas_migrating_at_once_do_not_collide(empty_engine: Engine) -> None:
    """Two processes starting together both run `upgrade`; the second waits for the first and finds nothing to do."""
    from concurrent.futures import ThreadPoolExecutor

    url = empty_engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(2)] if empty_engine.dialect.name == "postgresql" else [empty_engine]
    with ThreadPoolExecutor(len(engines)) as pool:
        for future in [pool.submit(upgrade, engine) for engine in engines]:
            future.result()
    assert current_revision(empty_engine) == head_revision()


def test_upgrading_keeps_data_and_its_links(empty_engine: Engine) -> None:
    """Rows written under the first schema survive every later migration with their foreign keys intact
    (SQLite rebuilds tables in batch migrations; dropping the old copy must not cascade into other tables)."""
    upgrade(empty_engine, "0001")
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO workspaces (team_id, created_at) VALUES ('T1', CURRENT_TIMESTAMP)"))
        conn.execute(text(
            "INSERT INTO papers (arxiv_id, title, authors, categories, ai_keywords, source, created_at, updated_at)"
            " VALUES ('2401.00001', 'A paper', '[]', '[]', '[]', 'hf', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text(
            "INSERT INTO digest_runs (id, team_id, channel_id, digest_date, status, claimed_by, claimed_at,"
            " heartbeat_at, plan) VALUES (7, 'T1', 'C1', '2026-11-24', 'done', 'w', CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP, '[]')"))
        conn.execute(text(
            "INSERT INTO posts (team_id, channel_id, ts, arxiv_id, kind, digest_run_id, created_at)"
            " VALUES ('T1', 'C1', '1.1', '2401.00001', 'digest', 7, CURRENT_TIMESTAMP)"))
    upgrade(empty_engine, "0002")
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO saved_papers (team_id, user_id, arxiv_id, created_at)"
                          " VALUES ('T1', 'U1', '2401.00001', CURRENT_TIMESTAMP)"))
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT digest_run_id FROM posts")).scalar() == 7
        assert conn.execute(text("SELECT count(*) FROM saved_papers")).scalar() == 1
        assert conn.execute(text("SELECT released FROM digest_runs WHERE id = 7")).scalar() in (False, 0)
