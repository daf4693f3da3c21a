"""papers.updated_at: an index, so the search index's "changed since" poll reads only what changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Every running bot polls for papers changed since its last look (bot/search/service.py) every few seconds;
without an index that is a scan of the whole table, which at a million papers costs more than the poll is worth.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_papers_updated_at", "papers", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_papers_updated_at", table_name="papers")
