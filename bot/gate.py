"""The gate in front of Bolt: a request reaches Bolt only when it is within the size limit, correctly signed by
Slack and well formed. Anything else gets a 4xx and one log line (why, from where, how big), never its body."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.request.internals import parse_body

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # bytes: Slack's payloads are a few KB; a cap keeps a giant body out of memory
MAX_AGE = 5 * 60  # seconds: Slack's rule, a signed request older (or newer) than this may be a replay
SLACK_CONTENT_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since the epoch, as ASCII digits only

# Slack's ids and timestamps are short (`T0123ABCD`, `1764150001.000100`); paperbot's columns hold 32 characters
# (event ids 64). A longer one is not Slack's, and would fail its insert on PostgreSQL after the ack.
ID_FIELDS = {
    **dict.fromkeys(("team_id", "channel_id", "user_id", "enterprise_id", "api_app_id", "bot_id"), 32),
    **dict.fromkeys(("ts", "thread_ts", "event_ts", "message_ts", "item_user"), 32),
    **dict.fromkeys(("team", "channel", "user", "id"), 32),
    "event_id": 64,
    "reaction": 100,
}


@dataclass(frozen=True)
class Rejected(Exception):
    """A request that does not reach Bolt: the HTTP status and why, for the one log line."""

    status: int
    why: str


def signature(secret: str, timestamp: bytes, body: bytes) -> bytes:
    """Slack's v0 signature of `body` sent at `timestamp`, computed on the raw bytes (a body that is not UTF-8
    is simply not Slack's, rather than an error)."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp + b":" + body, hashlib.sha256).hexdigest()
    return b"v0=" + digest.encode()


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, at most MAX_BODY bytes (413 above it: waitress stops it first; this holds under any
    server). A missing length is an empty body, as WSGI says."""
    raw = environ.get("CONTENT_LENGTH") or "0"
    if not raw.isascii() or not raw.isdigit():
        raise Rejected(400, "Content-Length is not a number")
    if int(raw) > MAX_BODY:
        raise Rejected(413, f"body over {MAX_BODY} bytes")
    body: bytes = environ["wsgi.input"].read(int(raw)) if int(raw) else b""
    return body


def check_signature(environ: dict[str, Any], body: bytes, secret: str, now: Callable[[], float]) -> None:
    """401 unless the request carries a fresh timestamp and Slack's signature of this very body."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    sent = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not timestamp or not sent:
        raise Rejected(401, "no Slack signature or timestamp")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Rejected(401, "timestamp is not a number")
    if abs(now() - int(timestamp)) > MAX_AGE:
        raise Rejected(401, "timestamp is more than 5 minutes off")
    # Header values arrive as latin-1 text (PEP 3333); as bytes they compare in constant time whatever they hold.
    if not hmac.compare_digest(sent.encode("latin-1", "replace"), signature(secret, timestamp.encode(), body)):
        raise Rejected(401, "signature does not match")


def check_payload(environ: dict[str, Any], body: bytes) -> None:
    """400/415 unless a signed body is one Bolt can read: UTF-8, a Slack content type, a JSON or form object."""
    content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if content_type not in SLACK_CONTENT_TYPES:
        raise Rejected(415, "not a Slack content type")
    try:
        parsed = parse_body(body.decode("utf-8"), content_type)
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None
    except (ValueError, RecursionError):  # bad JSON (JSONDecodeError is a ValueError), or nested too deep
        raise Rejected(400, "body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise Rejected(400, "body is not a JSON object")
    if (why := overlong_id(parsed)) is not None:
        raise Rejected(400, why)


def overlong_id(payload: Any, depth: int = 0) -> str | None:
    """Why `payload` holds an id paperbot cannot store (an ID_FIELDS value longer than its column, at any depth),
    or None: `overlong_id({"event": {"channel": "C" * 40}}) == "channel is longer than any Slack id"`."""
    if depth > 64:  # json.loads has bounded the depth already; no Slack payload comes near this
        return "nested deeper than any Slack payload"
    items = payload.items() if isinstance(payload, dict) else enumerate(payload) if isinstance(payload, list) else ()
    for key, value in items:
        if isinstance(value, str):
            limit = ID_FIELDS.get(key) if isinstance(key, str) else None
            if limit is not None and len(value) > limit:
                return f"{key} is longer than any Slack id"
        elif (why := overlong_id(value, depth + 1)) is not None:
            return why
    return None


def admit(environ: dict[str, Any], secret: str, now: Callable[[], float] = time.time) -> bytes:
    """The body of a request Bolt may see; otherwise Rejected."""
    body = read_body(environ)
    check_signature(environ, body, secret, now)
    check_payload(environ, body)
    return body


def log_rejection(environ: dict[str, Any], rejected: Rejected, size: int | None = None) -> None:
    """The one line a rejected request leaves in the log (its body never)."""
    if size is None:
        raw = environ.get("CONTENT_LENGTH") or "0"
        size = int(raw) if raw.isascii() and raw.isdigit() else -1
    where = environ.get("REMOTE_ADDR") or "unknown address"
    log.warning("rejected request (%d): %s; from %s, %d bytes", rejected.status, rejected.why, where, size)


class QuietSignatureFailure(logging.Filter):
    """Bolt logs the whole body of a request whose signature fails; the gate has already said why in one line,
    so such a record loses its body (the gate lets few through: a timestamp crossing the 5-minute edge)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature"):
            record.msg, record.args = "invalid request signature (body not logged)", None
        return True


def quiet_bolt_signature_log() -> None:
    """Install QuietSignatureFailure on the logger Bolt's request verification writes to (once)."""
    bolt = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, QuietSignatureFailure) for f in bolt.filters):
        bolt.addFilter(QuietSignatureFailure())
