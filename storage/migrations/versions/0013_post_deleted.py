"""posts: a `deleted` flag, so a paper post deleted in Slack stops counting without losing its rows

A share (or a digest or lookup message) deleted in Slack is marked here; the tallies (storage.tally.in_scope)
leave out deleted posts, and with them the reactions and thread replies on them, which stay stored. The export
still lists a deleted post, marked. Existing posts are not deleted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("deleted")
