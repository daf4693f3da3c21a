"""Channel privacy: whether each channel is private, so a private channel's discussion stays inside it

Lookups (`/papers search`, `show`, `top`, `filter`) show the team's votes, replies and thread links of a paper;
those from a private channel may appear only in answers given inside that channel. Slack says whether a channel is
private in `conversations.info`, asked when a lookup meets a channel not known yet; the answer is kept here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_privacy",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", name=op.f("pk_channel_privacy")),
    )


def downgrade() -> None:
    op.drop_table("channel_privacy")
