"""the durable event inbox: every Slack event stored before Slack is answered, applied afterwards by workers

`inbox_events` holds each Events API envelope as it arrived, keyed by (team_id, event_id) so Slack's retries of
an event are one row. Workers (bot/inbox.py) take due pending rows under a lease, apply them and mark them done;
a row that keeps failing is parked with its reason. Done rows are pruned after a while.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_events")),
        sa.UniqueConstraint("team_id", "event_id", name=op.f("uq_inbox_events_team_id_event_id")),
    )
    op.create_index("ix_inbox_events_state_next_attempt_at", "inbox_events", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_inbox_events_finished_at"), "inbox_events", ["finished_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_events_finished_at"), table_name="inbox_events")
    op.drop_index("ix_inbox_events_state_next_attempt_at", table_name="inbox_events")
    op.drop_table("inbox_events")
