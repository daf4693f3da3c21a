"""The retry policies of bot/retrying.py, on their own: what each retries, what it waits (through an injected
sleep, never a real one) and how it gives up. The clients' own messages are tested with the clients."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from tenacity import wait_none

from bot.config import ConfigError, load_settings
from bot.retrying import (
    TRANSACTION_PAUSES,
    GaveUp,
    Transient,
    http_retrying,
    retry_after,
    scaled_sleep,
    transaction_retrying,
    wait_equal_jitter,
)

log = logging.getLogger("tests.retrying")


class Sleeps(list[float]):
    """An injectable `sleep` that records what the policy asked to wait, and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def failing(*errors: Exception, then: str = "done") -> tuple[Callable[[], str], list[int]]:
    """A call that raises `errors` one per try, then returns `then`; and the list its tries are counted in."""
    tries: list[int] = []

    def call() -> str:
        tries.append(len(tries) + 1)
        if len(tries) <= len(errors):
            raise errors[len(tries) - 1]
        return then

    return call, tries


def http(sleeps: Sleeps, *, retries: int = 3, max_wait: float = 300.0) -> Callable[..., object]:
    backoff = wait_equal_jitter(base=1.0, cap=60.0, jitter=lambda: 1.0)
    return http_retrying(retries=retries, backoff=backoff, max_wait=max_wait, sleep=sleeps, log=log, what="GET x")


# ---- the HTTP policy -------------------------------------------------------------------------------------------


def test_http_retries_transient_failures_with_growing_backoff() -> None:
    sleeps = Sleeps()
    call, tries = failing(Transient("HTTP 502"), Transient("no answer within 2s"), Transient("HTTP 500"))
    assert http(sleeps)(call) == "done"
    assert len(tries) == 4 and sleeps == [1.0, 2.0, 4.0]


def test_http_does_not_retry_a_permanent_failure() -> None:
    sleeps = Sleeps()
    call, tries = failing(ValueError("HTTP 400: bad date"))
    with pytest.raises(ValueError, match="bad date"):
        http(sleeps)(call)
    assert len(tries) == 1 and sleeps == []


def test_http_waits_what_the_server_asked_for_instead_of_backing_off() -> None:
    sleeps = Sleeps()
    call, _ = failing(Transient("rate limited (HTTP 429)", wait=7.0), Transient("HTTP 503", wait=0.0))
    assert http(sleeps)(call) == "done"
    assert sleeps == [7.0, 0.0]  # 0: the moment the server named has passed, so go at once


def test_http_gives_up_after_its_budget_with_the_last_reason() -> None:
    sleeps = Sleeps()
    call, tries = failing(*[Transient(f"HTTP 50{n}") for n in range(10)])
    with pytest.raises(GaveUp) as info:
        http(sleeps, retries=2)(call)
    assert (info.value.tries, info.value.reason, info.value.asked) == (3, "HTTP 502", None)
    assert len(tries) == 3 and len(sleeps) == 2


def test_http_reports_a_wait_longer_than_it_allows_instead_of_sleeping() -> None:
    sleeps = Sleeps()
    call, tries = failing(Transient("rate limited (HTTP 429)", wait=3600.0))
    with pytest.raises(GaveUp) as info:
        http(sleeps, max_wait=300.0)(call)
    assert (info.value.asked, info.value.tries) == (3600.0, 1)
    assert len(tries) == 1 and sleeps == []


def test_http_with_no_retries_tries_once() -> None:
    call, tries = failing(Transient("HTTP 503", wait=3600.0))
    with pytest.raises(GaveUp) as info:
        http_retrying(retries=0, backoff=wait_none(), max_wait=1.0, sleep=Sleeps(), log=log, what="GET x")(call)
    # The budget is spent before the long wait matters: "gave up after one try", as before the policy existed.
    assert (info.value.tries, info.value.asked) == (1, None) and len(tries) == 1


def test_jitter_keeps_at_least_half_of_each_step_and_the_cap_holds() -> None:
    low = http_retrying(
        retries=8,
        backoff=wait_equal_jitter(base=1.0, cap=60.0, jitter=lambda: 0.0),
        max_wait=300.0,
        sleep=(sleeps := Sleeps()),
        log=log,
        what="GET x",
    )
    call, _ = failing(*[Transient("HTTP 500")] * 8)
    low(call)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, 30.0),  # RFC 9110's preferred HTTP-date
        ({"Retry-After": "Wednesday, 21-Oct-26 07:28:00 GMT"}, 30.0),  # the obsolete RFC 850 form
        ({"Retry-After": "Wed Oct 21 07:28:00 2026"}, 30.0),  # asctime, read as GMT
        ({"Retry-After": "Wed, 21 Oct 2026 07:00:00 GMT"}, 0.0),  # passed already
        ({"RateLimit": '"api";r=0;t=42'}, 42.0),  # Hugging Face's draft header
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_every_form_rfc_9110_allows(headers: dict[str, str], seconds: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert retry_after(httpx.Headers(headers), now) == seconds


# ---- the transaction policy ------------------------------------------------------------------------------------

INSERT = "INSERT INTO reactions (emoji) VALUES (%(emoji)s)"
TRANSIENT = {
    "connection-lost": DBAPIError(INSERT, {}, Exception("server closed the connection"), connection_invalidated=True),
    "deadlock": OperationalError(INSERT, {}, Exception("deadlock detected")),
    "database-locked": DBAPIError(INSERT, {}, sqlite3.OperationalError("database is locked")),
}
PERMANENT = {
    "bad-value": DataError(INSERT, {}, Exception("invalid byte sequence")),
    "duplicate": IntegrityError(INSERT, {}, Exception("duplicate key")),
    "not-sqlalchemy": RuntimeError("a bug"),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transaction_is_tried_again_after_a_transient_error(error: Exception) -> None:
    sleeps = Sleeps()
    call, tries = failing(error, error)
    assert transaction_retrying(sleep=sleeps)(call) == "done"
    assert len(tries) == 3 and sleeps == list(TRANSACTION_PAUSES[:2])


@pytest.mark.parametrize("error", PERMANENT.values(), ids=PERMANENT.keys())
def test_a_transaction_is_not_tried_again_after_a_permanent_error(error: Exception) -> None:
    sleeps = Sleeps()
    call, tries = failing(error)
    with pytest.raises(type(error)):
        transaction_retrying(sleep=sleeps)(call)
    assert len(tries) == 1 and sleeps == []


def test_a_transaction_that_keeps_failing_raises_its_last_error_after_every_pause() -> None:
    sleeps = Sleeps()
    errors = [OperationalError(INSERT, {}, Exception(f"deadlock {n}")) for n in range(10)]
    call, tries = failing(*errors)
    with pytest.raises(OperationalError, match="deadlock 3"):
        transaction_retrying(sleep=sleeps)(call)
    assert len(tries) == 1 + len(TRANSACTION_PAUSES) and sleeps == list(TRANSACTION_PAUSES)


# ---- the injected waits ----------------------------------------------------------------------------------------


def test_the_wait_scale_multiplies_each_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    assert scaled_sleep(1.0) is time.sleep  # production waits exactly what the policy asks
    slept = Sleeps()
    monkeypatch.setattr(time, "sleep", slept)
    scaled_sleep(0.5)(4.0)
    scaled_sleep(0.0)(60.0)
    assert slept == [2.0, 0.0]


def test_the_wait_scale_is_a_setting_and_cannot_be_negative() -> None:
    assert load_settings(PAPERBOT_RETRY_WAIT_SCALE="0.25").retry_wait_scale == 0.25
    with pytest.raises(ConfigError, match="PAPERBOT_RETRY_WAIT_SCALE"):
        load_settings(PAPERBOT_RETRY_WAIT_SCALE="-1")
