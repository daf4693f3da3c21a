"""saved papers remember when their reader marked them read (the Home tab's Mark read / Mark unread)

`saved_papers.read_at` is NULL while a saved paper is unread and holds the moment it was marked read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("saved_papers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("saved_papers", schema=None) as batch_op:
        batch_op.drop_column("read_at")
