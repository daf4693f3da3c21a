"""How paperbot tries again, built once with tenacity: one policy for the HTTP paper sources (Hugging Face, arXiv)
and one for the database transaction an event's change runs in.

Every wait goes through a `sleep` the caller passes in: in production `time.sleep` scaled by
PAPERBOT_RETRY_WAIT_SCALE (`scaled_sleep`), in tests a recorder, so no test waits for a real backoff.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NoReturn

import httpx
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_chain,
    wait_exponential,
    wait_fixed,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

Sleep = Callable[[float], None]


def scaled_sleep(scale: float) -> Sleep:
    """`time.sleep` of each wait times `scale` (PAPERBOT_RETRY_WAIT_SCALE: 1 in production, 0 in the test suite)."""
    if scale == 1:
        return time.sleep
    return lambda seconds: time.sleep(seconds * scale)


# ---- HTTP sources --------------------------------------------------------------------------------------------


class Transient(Exception):
    """One attempt failed in a way worth repeating (a timeout, a dropped connection, 429, 5xx, a malformed body);
    `wait` is how long the server asked us to wait (Retry-After), None when it did not say."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


class GaveUp(Exception):
    """The retries are spent (`tries` attempts, the last failed for `reason`), or the server asked for a wait
    longer than the policy allows (`asked`, in seconds; None otherwise). Clients turn it into their own error."""

    def __init__(self, reason: str, tries: int, asked: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.tries, self.asked = reason, tries, asked


class wait_equal_jitter(wait_exponential):
    """Exponential backoff with "equal jitter": half of each step for sure and the other half random, so clients
    that failed together spread out and none retries at once. `jitter()` (in [0, 1)) is injectable for tests.

    With base 1, cap 60 and jitter 1 the waits are 1, 2, 4, … 60 s; with jitter 0, half that."""

    def __init__(self, *, base: float, cap: float, jitter: Callable[[], float] = random.random) -> None:
        super().__init__(multiplier=base, max=cap)
        self.jitter = jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        step = super().__call__(retry_state)
        return step / 2 + step / 2 * self.jitter()


class wait_retry_after(wait_base):
    """The wait the server asked for (a Transient's Retry-After, honoured for 429 and 503), else `otherwise`."""

    def __init__(self, otherwise: wait_base) -> None:
        self.otherwise = otherwise

    def __call__(self, retry_state: RetryCallState) -> float:
        asked = _failure(retry_state).wait
        return self.otherwise(retry_state) if asked is None else asked


class stop_wait_beyond(stop_base):
    """Stop rather than sleep when the coming wait is longer than `limit` seconds (a 429 saying "in an hour")."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep > self.limit  # tenacity computes the wait before asking stop


def retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds a 429 or 503 asks us to wait: `Retry-After` (delay-seconds, or an HTTP date in any of RFC 9110's
    three forms, which the stdlib's parsedate_to_datetime reads), else the draft `RateLimit: "api";r=0;t=<seconds>`
    Hugging Face sends; None when neither says."""
    value = headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
            if when.tzinfo is None:  # asctime and "-0000" dates come back naive; HTTP dates are always GMT
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
        except (TypeError, ValueError):
            pass
    match = re.search(r"(?:^|;)\s*t=(\d+)", headers.get("RateLimit", ""))
    return float(match[1]) if match else None


def _failure(retry_state: RetryCallState) -> Transient:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    assert isinstance(exc, Transient), "only Transient failures are retried"
    return exc


def http_retrying(
    *,
    retries: int,
    backoff: wait_base,
    max_wait: float,
    sleep: Sleep,
    log: logging.Logger,
    what: str,
    level: int = logging.WARNING,
) -> Retrying:
    """The policy of an HTTP source: after a Transient failure, up to `retries` more tries, each after the wait
    the server asked for or else `backoff`; any other exception is raised at once. When the tries are spent, or
    the wait would exceed `max_wait` seconds, GaveUp is raised. Each retry is logged at `level`, naming `what`."""
    attempts = retries + 1

    def announce(state: RetryCallState) -> None:
        reason, wait = _failure(state).reason, state.upcoming_sleep
        after = f" in {wait:.1f}s" if wait else ""
        log.log(level, "%s: %s; retry %d of %d%s", what, reason, state.attempt_number, retries, after)

    def give_up(state: RetryCallState) -> NoReturn:
        last = _failure(state)
        if state.attempt_number < attempts:  # stopped early: the server asks for longer than we wait
            raise GaveUp(last.reason, state.attempt_number, asked=state.upcoming_sleep)
        raise GaveUp(last.reason, state.attempt_number)

    return Retrying(
        retry=retry_if_exception_type(Transient),
        stop=stop_after_attempt(attempts) | stop_wait_beyond(max_wait),
        wait=wait_retry_after(backoff),
        sleep=sleep,
        before_sleep=announce,
        retry_error_callback=give_up,
    )


# ---- database transactions -----------------------------------------------------------------------------------

# Pauses (seconds) before each new attempt after a transient database error: a few seconds in all, enough for a
# dropped connection or a lock to clear, short enough not to hold an inbox worker for long (a longer outage is
# the inbox's to wait out: the event stays stored and is tried again later, bot/inbox.py).
TRANSACTION_PAUSES = (0.1, 0.5, 2.0)


def transient(exc: BaseException) -> bool:
    """Whether trying the transaction again may work: a dropped connection, a deadlock or serialization failure
    (OperationalError in DB-API terms), SQLite's "database is locked"."""
    if not isinstance(exc, StatementError):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError) or "database is locked" in str(exc.orig)


def transaction_retrying(*, sleep: Sleep, before_sleep: Callable[[RetryCallState], None] | None = None) -> Retrying:
    """The policy of one whole transaction: tried again after each of TRANSACTION_PAUSES when it failed with a
    `transient` error; the last error, or any other, is raised as it is."""
    return Retrying(
        retry=retry_if_exception(transient),
        stop=stop_after_attempt(len(TRANSACTION_PAUSES) + 1),
        wait=wait_chain(*(wait_fixed(pause) for pause in TRANSACTION_PAUSES)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
