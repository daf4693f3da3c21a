"""The read queries of `paperbot export` (callers own the transaction; nothing here writes).

An export is a set of posts (a team, some channels, posted since a day) grouped by paper. `stream_posts` streams
those posts in paper order with one query; the papers' facts and the team's activity on exactly those posts are
then read a batch of papers at a time (`paper_facts`, and storage.tally's `count_activity` given `threads_of`
the batch), so a workspace with 100,000 posts exports in bounded memory with a handful of queries per batch,
never one per paper.

A post deleted in Slack is still streamed (marked `deleted`), so the export keeps the record of it; nothing is
counted on it: the caller counts with a scope without deleted posts and passes `threads_of` the live ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Paper, Post
from storage.tally import Scope, ThreadKey, in_scope


class PostRow(NamedTuple):
    """One post of the export."""

    arxiv_id: str
    team_id: str
    channel_id: str
    ts: str
    kind: str
    deleted: bool = False


def stream_posts(*, session: Session, scope: Scope, chunk: int = 1000) -> Iterator[PostRow]:
    """Every post in the scope, deleted ones included, grouped by paper: papers by their first post (Slack ts,
    then arXiv id), each paper's posts oldest first. Streams (a server-side cursor on PostgreSQL) `chunk` rows at
    a time."""
    conditions = in_scope(replace(scope, with_deleted=True))
    first = (
        select(Post.arxiv_id, func.min(Post.ts).label("first_ts")).where(*conditions).group_by(Post.arxiv_id).subquery()
    )
    query = (
        select(Post.arxiv_id, Post.team_id, Post.channel_id, Post.ts, Post.kind, Post.deleted)
        .join(first, first.c.arxiv_id == Post.arxiv_id)
        .where(*conditions)
        .order_by(first.c.first_ts, Post.arxiv_id, Post.ts, Post.team_id, Post.channel_id)
    )
    for row in session.execute(query, execution_options={"yield_per": chunk}):
        yield PostRow(*row)


def paper_facts(*, session: Session, arxiv_ids: Sequence[str]) -> dict[str, Any]:
    """arXiv id -> the paper's exported columns (no abstract: exports don't carry it)."""
    if not arxiv_ids:
        return {}
    rows = session.execute(
        select(
            Paper.arxiv_id,
            Paper.title,
            Paper.authors,
            Paper.published,
            Paper.hf_upvotes,
            Paper.primary_category,
            Paper.doi,
            Paper.journal_ref,
        ).where(Paper.arxiv_id.in_(list(arxiv_ids)))
    ).all()
    return {row.arxiv_id: row for row in rows}


def threads_of(posts: Sequence[PostRow]) -> dict[ThreadKey, str]:
    """(team, channel, ts) -> arXiv id of these posts but the deleted ones: whose thread a reply that counts is in
    (storage.tally)."""
    return {(post.team_id, post.channel_id, post.ts): post.arxiv_id for post in posts if not post.deleted}
