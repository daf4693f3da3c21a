"""digest runs: a `released` flag instead of a placeholder heartbeat

A claim released on purpose (a clean stop, a Slack outage) used to get heartbeat_at = 2000-01-01 so the next
worker took it over at once, which lost the run's real last-activity time that resuming needs to bound its
search of the channel history. The flag says "released"; heartbeat_at stays the true last activity.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('digest_runs') as batch:
        batch.add_column(sa.Column('released', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Runs released the old way carry the placeholder heartbeat: mark them released.
    op.execute("UPDATE digest_runs SET released = TRUE WHERE heartbeat_at < '2000-01-02'")


def downgrade() -> None:
    with op.batch_alter_table('digest_runs') as batch:
        batch.drop_column('released')
