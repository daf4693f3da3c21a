"""What one digest attempt works with (`DigestContext`) and what it reports (`Outcome`)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.choose import Prefs, prefs_for
from bot.config import Settings
from bot.deps import Deps
from storage import channels as channel_store
from storage.models import utcnow

PREVIEW_CHANNEL = "preview"  # the stand-in channel of a dry run when none is configured


PACE_SECONDS = 1.1  # chat.postMessage allows about one message per second per channel


# Process-wide on purpose: SIGTERM/SIGINT in `paperbot serve` must reach every digest run of the process, including
# runs whose context was built by a scheduler job; request_stop() is the one writer.
_stopping = threading.Event()


def request_stop() -> None:
    """Ask every digest run in this process to stop before its next message and release its claim."""
    _stopping.set()


def new_worker_id() -> str:
    """Who holds a claim: host, process and a random suffix, so every run attempt is told apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class DigestContext:
    """A digest attempt's working set: the process's `Deps`, a Slack client (None for dry runs), and the clock,
    sleep, pace, worker id and stop flag to use (injectable, so tests neither wait for pacing nor depend on the
    time of day). One fetch of a day's list serves every channel of the attempt (hence the cache and its lock)."""

    deps: Deps
    client: WebClient | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = utcnow
    pace: float = PACE_SECONDS
    worker: str = field(default_factory=new_worker_id)
    day_cache: dict[tuple[date, str], Any] = field(default_factory=dict)
    day_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=lambda: _stopping)

    @property
    def settings(self) -> Settings:
        """The process's settings."""
        return self.deps.settings

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The process's session factory."""
        return self.deps.sessions


class DigestStatus(StrEnum):
    """How a digest attempt ended (Outcome.status)."""

    POSTED = "posted"
    RESUMED = "resumed"  # a half-posted run finished
    ALREADY_DONE = "already_done"
    BUSY = "busy"  # another worker holds the run
    STOPPED = "stopped"  # asked to stop between two messages
    FAILED = "failed"
    NOT_READY = "not_ready"  # the day's list is not out yet
    EMPTY = "empty"  # nothing matched: at most a short notice was posted
    PREVIEW = "preview"  # a dry run: nothing was posted


@dataclass
class Outcome:
    """What a digest attempt did, for the CLI, `/papers digest now` and the scheduler's log."""

    channel_id: str
    day: date | None
    status: DigestStatus
    message: str
    posted: int = 0
    planned: int = 0
    payloads: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    retryable: bool = False  # a later attempt may succeed without anyone acting (not_ready, Slack 5xx...)
    retry_at: datetime | None = None  # busy: when the other worker's claim expires if it has died

    @property
    def ok(self) -> bool:
        return self.status != DigestStatus.FAILED


def load_prefs(ctx: DigestContext, *, team_id: str, channel_id: str, size: int | None = None) -> Prefs:
    """The channel's effective settings (read-only: a one-off run does not subscribe the channel)."""
    with ctx.sessions.begin() as session:
        channel = channel_store.get_channel(session=session, team_id=team_id, channel_id=channel_id)
        return prefs_for(channel, settings=ctx.settings, team_id=team_id, channel_id=channel_id, size=size)
