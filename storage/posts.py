"""Posts: Slack messages that are about one paper (callers own the transaction; nothing here commits)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Post
from storage.rows import get_or_insert
from storage.states import PostKind


def record_post(
    *,
    session: Session,
    team_id: str,
    channel_id: str,
    ts: str,
    arxiv_id: str,
    kind: PostKind | str,
    user_id: str | None = None,
    digest_run_id: int | None = None,
) -> Post:
    """Remember that message `ts` in the channel is about `arxiv_id`; recording it twice is harmless."""
    # The unique (team, channel, ts) key decides races (an event retry and the poster recording one message).
    post, _ = get_or_insert(
        session,
        Post,
        {"team_id": team_id, "channel_id": channel_id, "ts": ts},
        {"arxiv_id": arxiv_id, "kind": PostKind(kind), "user_id": user_id, "digest_run_id": digest_run_id},
    )
    return post


def find_post(*, session: Session, team_id: str, channel_id: str, ts: str) -> Post | None:
    """The post behind a Slack message, or None when the message is not about a paper."""
    return session.scalars(
        select(Post).where(Post.team_id == team_id, Post.channel_id == channel_id, Post.ts == ts)
    ).one_or_none()


def posted_arxiv_ids(
    *, session: Session, team_id: str, channel_id: str, arxiv_ids: Iterable[str] | None = None
) -> set[str]:
    """Which papers (of `arxiv_ids`, or all) already have a post of any kind in the channel."""
    query = select(Post.arxiv_id).where(Post.team_id == team_id, Post.channel_id == channel_id)
    if arxiv_ids is not None:
        wanted = list(arxiv_ids)
        if not wanted:
            return set()
        query = query.where(Post.arxiv_id.in_(wanted))
    return set(session.scalars(query).all())


def run_posts(*, session: Session, digest_run_id: int) -> dict[str, str]:
    """arXiv id → message ts of the papers a digest run has posted so far."""
    rows = session.execute(select(Post.arxiv_id, Post.ts).where(Post.digest_run_id == digest_run_id)).all()
    return {arxiv_id: ts for arxiv_id, ts in rows}


def mark_post_deleted(*, session: Session, team_id: str, channel_id: str, ts: str) -> bool:
    """Mark the post of message `ts` deleted in Slack: it, its reactions and its thread's replies stop counting
    (storage.tally) and stay stored. False when there is no such post or it was marked already."""
    post = session.scalars(
        select(Post).where(Post.team_id == team_id, Post.channel_id == channel_id, Post.ts == ts).with_for_update()
    ).one_or_none()
    if post is None or post.deleted:
        return False
    post.deleted = True
    return True
