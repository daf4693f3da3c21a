"""reconcile: each workspace's catch-up run from Slack, with its cursor, so a restart resumes it

One row per workspace: when the current run started, the id of the last post it reconciled (posts go in id order),
its last sign of life and when it finished. An unfinished run with a recent heartbeat is continued from its cursor.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_reconcile_runs")),
    )


def downgrade() -> None:
    op.drop_table("reconcile_runs")
