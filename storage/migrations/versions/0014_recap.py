"""the weekly recap: a `kind` on digest runs (digest | recap) and a channel's recap day and time

The recap reuses the digest's exactly-once claim (storage/digests.py): its runs are digest_runs rows of kind
`recap` keyed by the week's Monday, so the unique key now includes the kind. Existing rows are digests.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = "uq_digest_runs_team_id_channel_id_digest_date"
NEW_KEY = "uq_digest_runs_team_id_channel_id_kind_digest_date"


def upgrade() -> None:
    with op.batch_alter_table("digest_runs") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), server_default="digest", nullable=False))
        batch.drop_constraint(OLD_KEY, type_="unique")
        batch.create_unique_constraint(NEW_KEY, ["team_id", "channel_id", "kind", "digest_date"])
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("recap_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recap_time", sa.String(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("recap_time")
        batch.drop_column("recap_day")
    # The old key cannot hold a recap next to a digest of the same Monday: recaps go with their kind.
    op.execute("DELETE FROM digest_runs WHERE kind <> 'digest'")
    with op.batch_alter_table("digest_runs") as batch:
        batch.drop_constraint(NEW_KEY, type_="unique")
        batch.create_unique_constraint(OLD_KEY, ["team_id", "channel_id", "digest_date"])
        batch.drop_column("kind")
