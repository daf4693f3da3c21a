"""The schema: what paperbot remembers. Changes only through Alembic migrations (storage/migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.states import EnumText, InboxState, PaperSource, PostKind, RunKind, RunStatus

# Stable constraint names so migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only time paperbot stores)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The declarative base of every table, with stable constraint names."""

    metadata = MetaData(naming_convention=NAMING)


class Workspace(Base):
    """A Slack workspace (team) the bot is installed in."""

    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Channel(Base):
    """A channel and its own settings; None means 'use the deployment default from Settings'."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    digest_time: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str | None] = mapped_column(String(64))
    digest_size: Mapped[int | None] = mapped_column(Integer)
    min_upvotes: Mapped[int | None] = mapped_column(Integer)
    include_weekends: Mapped[bool] = mapped_column(Boolean, default=False)
    post_empty_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"keywords": [...], "authors": [...], "topics": [...]} applied fuzzily to each digest.
    filters: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The weekly recap (bot/recap.py): weekday 0 (Monday) to 6 and HH:MM in the channel's zone; None: no recap.
    recap_day: Mapped[int | None] = mapped_column(Integer)
    recap_time: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Paper(Base):
    """One paper, keyed by its versionless arXiv id (new style `2410.13732` or old style `hep-th/9901001`)."""

    __tablename__ = "papers"
    __table_args__ = (
        # Partial: most papers (arXiv snapshot imports) were never on Daily Papers, and skipping their NULLs
        # makes bulk imports cheaper without slowing the digest's look-up of one day's list.
        Index(
            "ix_papers_daily_date",
            "daily_date",
            sqlite_where=text("daily_date IS NOT NULL"),
            postgresql_where=text("daily_date IS NOT NULL"),
        ),
        # The search index polls for papers changed since its last look (storage/search.py).
        Index("ix_papers_updated_at", "updated_at"),
    )

    arxiv_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(Json, default=list)
    abstract: Mapped[str | None] = mapped_column(Text)
    published: Mapped[date | None] = mapped_column(Date, index=True)
    updated: Mapped[date | None] = mapped_column(Date)
    categories: Mapped[list[str]] = mapped_column(Json, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(32), index=True)
    comments: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    hf_upvotes: Mapped[int | None] = mapped_column(Integer)
    hf_comments: Mapped[int | None] = mapped_column(Integer)
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str]] = mapped_column(Json, default=list)
    github_repo: Mapped[str | None] = mapped_column(String(512))
    github_stars: Mapped[int | None] = mapped_column(Integer)
    project_page: Mapped[str | None] = mapped_column(String(1024))
    thumbnail: Mapped[str | None] = mapped_column(String(1024))
    # The day it was on Hugging Face Daily Papers (None for papers known only from arXiv).
    daily_date: Mapped[date | None] = mapped_column(Date)
    source: Mapped[PaperSource] = mapped_column(EnumText(PaperSource, 16), default=PaperSource.HF)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class UpvoteSnapshot(Base):
    """HF upvotes of a paper as seen on a given day, so 'trending this week' can be computed later."""

    __tablename__ = "upvote_snapshots"
    __table_args__ = (UniqueConstraint("arxiv_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date, index=True)
    upvotes: Mapped[int] = mapped_column(Integer)


class Post(Base):
    """A Slack message that is about one paper: its reactions and thread belong to that paper."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts"),
        Index("ix_posts_channel_paper", "team_id", "channel_id", "arxiv_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id"), index=True)
    kind: Mapped[PostKind] = mapped_column(EnumText(PostKind, 16))
    user_id: Mapped[str | None] = mapped_column(String(32))  # who shared it (share/lookup)
    digest_run_id: Mapped[int | None] = mapped_column(ForeignKey("digest_runs.id", ondelete="SET NULL"))
    # The message was deleted in Slack: the post, its reactions and its thread's replies no longer count anywhere
    # (storage.tally.in_scope), but stay stored; Slack never brings a deleted message back.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reaction(Base):
    """One person's emoji on one paper post. The unique key makes Slack's retries harmless."""

    __tablename__ = "reactions"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_ts", "user_id", "emoji"),
        Index("ix_reactions_paper", "arxiv_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    emoji: Mapped[str] = mapped_column(String(100))
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reply(Base):
    """A thread reply under a paper post; edits update it, deletes mark it."""

    __tablename__ = "replies"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts"),
        Index("ix_replies_paper", "arxiv_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # Slack's `edited.ts` of the edit the text is from: an older edit delivered late does not overwrite a newer one.
    edited_ts: Mapped[str | None] = mapped_column(String(32))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ProcessedEvent(Base):
    """A Slack event whose change is stored, claimed in the change's own transaction: a retry of it (same
    event_id) or the same event reaching a second replica changes nothing. Kept a while, then pruned."""

    __tablename__ = "processed_events"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class InboxEvent(Base):
    """A Slack event as it arrived, stored before Slack got its 200 (or its Socket Mode ack) and applied
    afterwards by a worker (bot/inbox.py): pending until applied, then done (pruned later), or parked with its
    reason when it kept failing. A worker holds a row by its lease; a lease that ran out belongs to nobody."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("team_id", "event_id"),
        Index("ix_inbox_events_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))  # Slack's, or "body:<sha1>" for a body without one
    event_type: Mapped[str] = mapped_column(String(64))  # `type/subtype`, for the log and `paperbot inbox`
    body: Mapped[str] = mapped_column(Text)  # the Events API envelope, as JSON (ASCII: lone surrogates escaped)
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[InboxState] = mapped_column(EnumText(InboxState, 16), default=InboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class ReactionClock(Base):
    """The `event_ts` of the newest reaction_added/reaction_removed applied for one person, message and emoji,
    so an older event that Slack delivers late (a retried add after its removal) cannot undo a newer one."""

    __tablename__ = "reaction_clocks"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    emoji: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_ts: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class DigestRun(Base):
    """One channel's digest for one date, or its recap of one week (`kind`; the week's Monday as `digest_date`),
    claimed atomically before anything is posted (exactly once)."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "kind", "digest_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[RunKind] = mapped_column(EnumText(RunKind, 16), default=RunKind.DIGEST, server_default="digest")
    digest_date: Mapped[date] = mapped_column(Date)
    status: Mapped[RunStatus] = mapped_column(EnumText(RunStatus, 16), default=RunStatus.CLAIMED)
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The claim's last sign of life: refreshed before every message, kept when the claim is released.
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # True when the worker let go on purpose (clean stop, Slack outage): the next attempt takes over at once.
    released: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The papers chosen, in posting order, fixed at claim time so a resumed run posts the same list.
    plan: Mapped[list[str]] = mapped_column(Json, default=list)
    header_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class SavedPaper(Base):
    """A paper someone saved to their own reading list (the Save button)."""

    __tablename__ = "saved_papers"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "arxiv_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When its reader marked it read on the Home tab; None while unread.
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChannelPrivacy(Base):
    """Whether a Slack channel is private, as Slack last told us (an event's channel_type or conversations.info).
    A private channel's discussion is shown only inside that channel; a channel not known here counts as private."""

    __tablename__ = "channel_privacy"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    is_private: Mapped[bool] = mapped_column(Boolean)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Subscription(Base):
    """One person's personal alert (`/papers subscribe`): the day's papers matching `filters` reach them by DM."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    # {"keywords": [...], "authors": [...], "topics": [...]}, matched like a channel's digest filters.
    filters: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The canonical display form (`diffusion author:"Yann LeCun"`): the same text twice is one subscription.
    text: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertRun(Base):
    """One person's alert DM for one day's list, claimed before it is sent (exactly once, like DigestRun)."""

    __tablename__ = "alert_runs"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="claimed")  # claimed | sent | empty | failed
    worker: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The claim's last sign of life, refreshed just before the DM is sent; an old one means its worker died.
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class ReconcileRun(Base):
    """A workspace's catch-up from Slack (bot.reconcile): how far the current run got, so a restart resumes it."""

    __tablename__ = "reconcile_runs"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Posts are reconciled in id order; every post with an id up to `cursor` is done in this run.
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
