"""How paperbot's log records are written: one line each, secrets masked, as text or as JSON
(PAPERBOT_LOG_FORMAT), with the Slack context of the work in hand (team, event id, command, channel).

The context lives in context variables, set where work begins (`log_context`: the inbox worker per event, the
command lane per request) and carried to the answer pool (bot.lanes.after_ack copies it), so a record logged
deep inside bot logic still says which workspace and channel it was about. Only ids go there, never text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from storage.text import mask_url_passwords, one_line

# The fields a record may carry about the Slack work in hand, by their JSON names.
CONTEXT_FIELDS = ("team", "event_id", "command", "channel")
_CONTEXT: ContextVar[dict[str, str]] = ContextVar("paperbot_log_context", default={})  # noqa: B039 - never mutated
MIN_SECRET = 8  # characters: a configured secret shorter than this is not masked by value (it would mask words)

# Slack tokens look like xoxb-…, xoxp-…, xapp-…; anything shaped like one is masked in every log line.
_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]+")
MASK = "…redacted…"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with anything shaped like a Slack token or a URL's password masked, and any of `secrets` (the
    configured values, e.g. the signing secret, which has no shape of its own):
    `redact("key abcdef0123456789 xoxb-1-2", ["abcdef0123456789"]) == "key …redacted… xoxb-…redacted…"`."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, MASK)
    return mask_url_passwords(_TOKEN.sub(r"\1-" + MASK, text))


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Records logged inside carry these CONTEXT_FIELDS (None and empty values are left out; inner values win)."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"not log context fields: {sorted(unknown)}")
    added = {name: str(value)[:100] for name, value in fields.items() if value}
    token = _CONTEXT.set({**_CONTEXT.get(), **added})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> dict[str, str]:
    """The log context of this thread's work in hand."""
    return dict(_CONTEXT.get())


class RedactSecrets(logging.Filter):
    """Masks anything that looks like a Slack token or a URL's password, so secrets never reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class SafeFormatter(logging.Formatter):
    r"""Every record as one line with its secrets masked, traceback included: the traceback is formatted, then
    masked (a filter sees only the message), then the whole line's controls are escaped, so data (a request
    body, a user's text) cannot break a line or forge one. A traceback's own line breaks show as `\n`."""

    def __init__(self, fmt: str | None = None, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(secrets)

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei), self.secrets)

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info), self.secrets)

    def format(self, record: logging.LogRecord) -> str:
        return one_line(redact(super().format(record), self.secrets))


class JsonFormatter(SafeFormatter):
    r"""Every record as one JSON object on one line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, the
    log context (CONTEXT_FIELDS) where known, and `exception` (a traceback, as one string) or `stack`. Secrets
    are masked as in the text format; `json.dumps` escapes every control and non-ASCII character."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), self.secrets),
            **current_context(),
        }
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text, self.secrets)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=True)
