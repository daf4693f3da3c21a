"""Workspaces and channels with their digest settings (callers own the transaction; nothing here commits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from storage.models import Base, Channel, Workspace
from storage.rows import get_or_insert

# Settings a channel may change from Slack (`/papers config`); anything else is not a channel setting.
CHANNEL_SETTINGS = frozenset(
    {
        "digest_enabled",
        "digest_time",
        "timezone",
        "digest_size",
        "min_upvotes",
        "include_weekends",
        "post_empty_notice",
        "filters",
        "recap_day",
        "recap_time",
    }
)


def ensure_workspace(*, session: Session, team_id: str, name: str | None = None) -> Workspace:
    """The Workspace row of `team_id`, created if missing (channels, posts and runs hang off it)."""
    workspace, _ = get_or_insert(session, Workspace, {"team_id": team_id}, {"name": name})
    return workspace


def get_channel(*, session: Session, team_id: str, channel_id: str) -> Channel | None:
    """The channel's row, or None when nobody configured it yet."""
    return session.scalars(
        select(Channel).where(Channel.team_id == team_id, Channel.channel_id == channel_id)
    ).one_or_none()


def get_or_create_channel(*, session: Session, team_id: str, channel_id: str) -> Channel:
    """The channel's row, created with deployment defaults (and its workspace) if missing."""
    channel = get_channel(session=session, team_id=team_id, channel_id=channel_id)
    if channel is not None:
        return channel
    ensure_workspace(session=session, team_id=team_id)
    channel, _ = get_or_insert(session, Channel, {"team_id": team_id, "channel_id": channel_id}, {"filters": {}})
    return channel


def local_team(*, session: Session) -> str:
    """The workspace this database knows, when it knows exactly one; "T-local" otherwise (dry runs only)."""
    teams = session.scalars(select(Workspace.team_id).limit(2)).all()
    return teams[0] if len(teams) == 1 else "T-local"


def digest_channels(*, session: Session, team_id: str | None = None) -> Sequence[Channel]:
    """Channels that want the daily digest, optionally in one workspace, in a stable order."""
    query = select(Channel).where(Channel.digest_enabled.is_(True))
    if team_id is not None:
        query = query.where(Channel.team_id == team_id)
    return session.scalars(query.order_by(Channel.team_id, Channel.channel_id)).all()


def recap_channels(*, session: Session) -> Sequence[Channel]:
    """Channels with a weekly recap (`/papers config recap <day> <HH:MM>`), in a stable order."""
    query = select(Channel).where(Channel.recap_day.is_not(None), Channel.recap_time.is_not(None))
    return session.scalars(query.order_by(Channel.team_id, Channel.channel_id)).all()


def digest_turned_off(*, session: Session, team_id: str, channel_id: str) -> bool:
    """True when the channel's row says no digest (`/papers config digest off`), which beats any default."""
    channel = get_channel(session=session, team_id=team_id, channel_id=channel_id)
    return channel is not None and not channel.digest_enabled


def update_channel(*, session: Session, team_id: str, channel_id: str, **changes: Any) -> Channel:
    """Change a channel's digest settings; unknown names raise ValueError naming them."""
    unknown = sorted(set(changes) - CHANNEL_SETTINGS)
    if unknown:
        raise ValueError(f"not a channel setting: {', '.join(unknown)}")
    channel = get_or_create_channel(session=session, team_id=team_id, channel_id=channel_id)
    for name, value in changes.items():
        setattr(channel, name, value)
    session.flush()
    return channel


def purge_team(*, session: Session, team_id: str) -> dict[str, int]:
    """Delete everything stored for workspace `team_id` (its channels, posts, votes, replies, runs, saved papers,
    subscriptions, events...) and return the rows deleted per table; papers, shared by every workspace, stay.

    Every table of the schema with a `team_id` column is covered, children before parents, so a table added later
    is purged too without being listed here."""
    deleted: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        if "team_id" in table.c:
            result = session.execute(delete(table).where(table.c.team_id == team_id))
            if isinstance(result, CursorResult) and result.rowcount:
                deleted[table.name] = int(result.rowcount)
    return deleted
