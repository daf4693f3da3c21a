"""The states storage keeps as short strings, as `StrEnum`s: mypy checks every value written in code, and the
database holds the same text as before (no migration: the columns stay VARCHAR, `EnumText` converts)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator

E = TypeVar("E", bound=StrEnum)


class RunStatus(StrEnum):
    """A digest run's state (DigestRun.status): claimed while a worker posts it, then done, empty or failed."""

    CLAIMED = "claimed"
    DONE = "done"
    EMPTY = "empty"
    FAILED = "failed"


class RunKind(StrEnum):
    """What a claimed run posts (DigestRun.kind): a channel's daily digest, or its weekly recap (keyed by the
    week's Monday)."""

    DIGEST = "digest"
    RECAP = "recap"


class ClaimOutcome(StrEnum):
    """What claiming a digest run found (storage.digests.Claim)."""

    CLAIMED = "claimed"  # a new run, ours
    RESUMED = "resumed"  # ours now, with posts to finish
    DONE = "done"  # posted (or found empty) before
    BUSY = "busy"  # another live worker has it
    FAILED = "failed"  # failed for good; not retried


class InboxState(StrEnum):
    """An inbox row's state (InboxEvent.state): pending until a worker applied it, parked when it kept failing."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"


class PostKind(StrEnum):
    """Why a Slack message is about a paper (Post.kind)."""

    DIGEST = "digest"  # one of a daily digest's messages
    SHARE = "share"  # someone posted a link to the paper
    LOOKUP = "lookup"  # the bot's answer to a question about the paper


class PaperSource(StrEnum):
    """Where a paper's stored values came from (Paper.source); storage.papers ranks them by trust."""

    HF = "hf"
    ARXIV = "arxiv"
    SNAPSHOT = "snapshot"
    SAMPLE = "sample"
    LINK = "link"  # a placeholder: a shared link's paper row until a real record arrives


class EnumText(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its text in a VARCHAR column: writes accept the enum or its text (anything else is a
    ValueError naming the value), reads return the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """The text stored for `value`."""
        return None if value is None else str(self.enum(value).value)

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        """The enum member of stored text."""
        return None if value is None else self.enum(value)
