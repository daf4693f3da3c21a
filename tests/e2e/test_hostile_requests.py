"""Hostile input at the bot's real HTTP endpoint: anything that is not a correctly signed, well-formed Slack
request gets a 4xx (never a 500), no traceback, and one log line that never holds the body."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.gate import MAX_BODY
from tests.fakes.slack import SIGNING_SECRET, SlackSender

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)

# Header values as an HTTP client can send them: printable latin-1, no line breaks.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(str.strip)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data", "", "\xe9/\xff"]
)
timestamps = st.one_of(
    header_text,
    st.integers(-(10**15), 10**15).map(str),
    st.just(str(int(time.time()))),
    st.just("１２３"),  # full-width digits: int() would take them, Slack never sends them
)


def _sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


class ServerLog:
    """What the bot logged (at every level, Bolt's debug lines included), without the test client's own lines."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    @property
    def records(self) -> list[logging.LogRecord]:
        return [r for r in self.caplog.records if not r.name.startswith(("httpx", "httpcore"))]

    @property
    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)

    def clear(self) -> None:
        self.caplog.clear()


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> ServerLog:
    caplog.set_level(logging.DEBUG)
    return ServerLog(caplog)


def _assert_quiet(log: ServerLog, body: bytes) -> None:
    """No traceback, no multi-line message and never the body (or a long piece of it) in the log."""
    for record in log.records:
        assert record.exc_info is None, record.getMessage()
        assert "\n" not in record.getMessage()
        assert "Traceback" not in record.getMessage()
    if len(body) >= 16:
        text = log.text
        assert body.decode("latin-1")[:16] not in text and body.decode("utf-8", "replace")[:16] not in text


def _post(sender: SlackSender, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # Any byte a header may carry: latin-1 where it fits, else UTF-8 (as a client would send full-width digits).
    raw = {
        name.encode(): value.encode("utf-8" if max(value, default="a") > "\xff" else "latin-1")
        for name, value in headers.items()
    }
    return sender.client.post(sender.endpoint, content=body, headers=raw)


@FUZZ
@given(body=st.binary(max_size=2000), content_type=content_types, timestamp=timestamps, signature=header_text)
def test_unsigned_junk_gets_a_4xx_and_one_quiet_line(
    sender: SlackSender,
    log: ServerLog,
    body: bytes,
    content_type: str,
    timestamp: str,
    signature: str,
) -> None:
    log.clear()
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    response = _post(sender, body, {k: v for k, v in headers.items() if v})
    assert response.status_code in (400, 401, 415)
    _assert_quiet(log, body)
    assert [r.name for r in log.records] == ["bot.gate"]  # exactly one line, from the gate


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
malformed = st.one_of(
    st.binary(max_size=500),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 50_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 50_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.text(max_size=200).map(lambda t: ("payload=" + t).encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(body=malformed, content_type=content_types)
def test_signed_but_malformed_bodies_get_a_4xx_or_an_answer_never_a_500(
    sender: SlackSender, log: ServerLog, body: bytes, content_type: str
) -> None:
    log.clear()
    timestamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": _sign(body, timestamp)}
    response = _post(sender, body, {**headers, "Content-Type": content_type} if content_type else headers)
    assert response.status_code < 500
    for record in log.records:
        assert record.exc_info is None, record.getMessage()


def test_deeply_nested_json_is_a_400(sender: SlackSender, log: ServerLog) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": _sign(body, timestamp),
    }
    response = _post(sender, body, headers)
    assert response.status_code == 400
    _assert_quiet(log, body)
    assert "body is not valid JSON" in log.text


def test_non_numeric_timestamp_is_a_401_with_one_line(sender: SlackSender, log: ServerLog) -> None:
    body = b'{"type": "event_callback"}'
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=1"}
    response = _post(sender, body, headers)
    assert response.status_code == 401
    [line] = log.records
    assert line.getMessage() == (
        f"rejected request (401): timestamp is not a number; from 127.0.0.1, {len(body)} bytes"
    )


def test_a_big_unsigned_body_is_not_logged(sender: SlackSender, log: ServerLog) -> None:
    """Bolt logged the whole body of each request whose signature failed (132 MB of log in 5 s)."""
    body = b'{"type":"event_callback","event":"' + b"A" * 900_000 + b'"}'
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": _sign(body, timestamp, "not-the-secret"),
    }
    for _ in range(5):
        assert _post(sender, body, headers).status_code == 401
    assert len(log.records) == 5
    assert len(log.text) < 2_000


def test_a_body_over_the_limit_is_a_413(sender: SlackSender) -> None:
    response = _post(sender, b"x" * (MAX_BODY + 1), {"Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_chunked_body_over_the_limit_is_a_413(sender: SlackSender) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 50_000 + 2):
            yield b"x" * 50_000

    response = sender.client.post(sender.endpoint, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_on_the_endpoint_are_a_405(sender: SlackSender, method: str) -> None:
    assert sender.client.request(method, sender.endpoint).status_code == 405


def test_a_signed_request_still_works(sender: SlackSender) -> None:
    """The gate lets Slack's own requests through untouched (a charset in the content type included)."""
    response = sender.post("command=%2Fpapers&text=help", "application/x-www-form-urlencoded; charset=utf-8")
    assert response.status_code == 200
    assert "/papers help" in response.text
