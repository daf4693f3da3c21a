"""Slack events exactly once: processed event ids, the newest reaction event per reaction, reply edit times

Slack retries an event it got no 200 for (same event_id) and may deliver events out of order. `processed_events`
holds each applied event's id, written in the same transaction as its change, so a retry or a second replica
changes nothing. `reaction_clocks` keeps the event_ts of the newest add/remove applied per person, message and
emoji, so a late older event cannot undo a newer one. `replies.edited_ts` does the same for edits. Both
bookkeeping tables are pruned once Slack can no longer retry (bot/activity.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_index(op.f("ix_processed_events_processed_at"), "processed_events", ["processed_at"])
    op.create_table(
        "reaction_clocks",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("emoji", sa.String(length=100), nullable=False),
        sa.Column("event_ts", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "message_ts", "user_id", "emoji",
                                name=op.f("pk_reaction_clocks")),
    )
    op.create_index(op.f("ix_reaction_clocks_updated_at"), "reaction_clocks", ["updated_at"])
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("edited_ts", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("edited_ts")
    op.drop_index(op.f("ix_reaction_clocks_updated_at"), table_name="reaction_clocks")
    op.drop_table("reaction_clocks")
    op.drop_index(op.f("ix_processed_events_processed_at"), table_name="processed_events")
    op.drop_table("processed_events")
