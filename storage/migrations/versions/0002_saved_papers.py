"""saved papers: each person's reading list (the Save button)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_papers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("arxiv_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["arxiv_id"], ["papers.arxiv_id"], name=op.f("fk_saved_papers_arxiv_id_papers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_papers")),
        sa.UniqueConstraint("team_id", "user_id", "arxiv_id", name=op.f("uq_saved_papers_team_id_user_id_arxiv_id")),
    )
    with op.batch_alter_table("saved_papers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_papers_arxiv_id"), ["arxiv_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("saved_papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_papers_arxiv_id"))
    op.drop_table("saved_papers")
