"""papers.daily_date: a partial index (only papers that were on Daily Papers)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Snapshot imports add millions of papers with no Daily Papers day; indexing their NULLs cost every bulk insert
time and the index space, and no query looks them up.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("daily_date IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_papers_daily_date", table_name="papers")
    op.create_index("ix_papers_daily_date", "papers", ["daily_date"], sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_papers_daily_date", table_name="papers")
    op.create_index("ix_papers_daily_date", "papers", ["daily_date"])
