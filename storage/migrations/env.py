"""Alembic environment: runs on the connection handed over by storage.db.upgrade (or the URL for the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.sql.schema import SchemaItem

from storage.db import FOREIGN_TABLES
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """Keep library-owned tables (APScheduler's job store, Slack OAuth) out of autogenerate."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run_with(connection: Connection) -> None:
    """Run the pending migrations on `connection`; on SQLite in batch mode, which alters a table by copying it."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        run_with(conn)
