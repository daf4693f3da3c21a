"""The durable event inbox: a Slack event is stored before Slack is answered, and applied afterwards by workers.

`receive` is what the Bolt middleware (handlers/inbox.py) calls for each activity event: one INSERT on a small
engine whose waits are bounded (Deps.inbox_sessions). True means the event is stored (or was already: Slack's
retry) and Slack may get its 200 (its ack in Socket Mode); False means the write failed, and Slack must get no
200, so that it sends the event again.

`Workers` are threads inside `serve` that take due rows under a lease (storage.inbox), apply each through
bot.events and bot.activity (which mark the row done in the change's own transaction) and, when applying fails,
hand the row back due later (exponential backoff, scaled by PAPERBOT_RETRY_WAIT_SCALE), until a transient failure
has lasted PAPERBOT_INBOX_PARK_AFTER_SECONDS or another failure happened MAX_FAILURES times: then the row is
parked with its reason, logged once and listed by `paperbot inbox`. A row about a message not known yet (a vote
that overtook its share) is tried again for PAPERBOT_INBOX_UNKNOWN_WAIT_SECONDS, then done without effect.
`stop` stops taking rows, waits a bounded time for rows in flight and hands back what this process still holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot import events, metrics
from bot.activity import Delivery, NotStored, Outcome
from bot.deps import Deps
from bot.logs import log_context
from storage import inbox
from storage.digests import aware
from storage.models import utcnow
from storage.text import first_line

log = logging.getLogger(__name__)

BATCH = 10  # rows a worker takes at once
IDLE_POLL = 0.5  # seconds an idle worker waits for the bell before looking for due rows anyway
MIN_WAIT = 0.2  # seconds: the shortest wait before a row is tried again, whatever the scale
MAX_WAIT = 300.0  # seconds: the longest backoff step of a failing row
UNKNOWN_MAX_WAIT = 15.0  # seconds: the longest step while waiting for a message to become known
YIELD_AT_MOST = 0.1  # seconds a SQLite worker waits for the server's inbox writes before its own transaction
MAX_FAILURES = 3  # tries of a row that failed in a way waiting cannot fix (a bug, a value the database refuses)


def arrival_of(body: dict[str, Any], bot_user_id: str | None) -> inbox.Arrival:
    """The inbox row of an Events API body: keyed by team and Slack's event id, or by a hash of the body when it
    has none (Slack always sends one; a hash still makes a resent body one row)."""
    event = events.event_of(body)
    team = body.get("team_id") or event.get("team") or ""
    raw = json.dumps(body, sort_keys=True)  # ASCII: a lone surrogate or NUL is escaped, never refused
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        event_id = "body:" + hashlib.sha1(raw.encode()).hexdigest()
    kind = "/".join(str(part) for part in (event.get("type"), event.get("subtype")) if part) or "event"
    return inbox.Arrival(
        team_id=str(team)[:32], event_id=event_id, event_type=kind, body=raw, bot_user_id=(bot_user_id or None)
    )


def receive(deps: Deps, body: dict[str, Any], bot_user_id: str | None) -> bool:
    """Store an event in the inbox before Slack is answered; False when the write failed (Slack must retry)."""
    arrival = arrival_of(body, bot_user_id)
    metrics.EVENTS_RECEIVED.labels(arrival.event_type).inc()
    try:
        new = _write(deps, arrival)
    except (SQLAlchemyError, TimeoutError) as exc:
        metrics.EVENTS_NOT_STORED.labels(arrival.event_type).inc()
        log.warning(
            "Slack event %s (%s) not stored, so not acknowledged (Slack sends it again): %s",
            arrival.event_id,
            arrival.event_type,
            first_line(exc)[:200] or type(exc).__name__,
        )
        return False
    if new:
        deps.inbox_bell.set()
    return True


class _SqliteTurns:
    """SQLite has one writer at a time, and its busy handler is neither fair nor quick (it sleeps up to 100 ms
    between looks): under load, a thread waiting for the write lock can lose round after round. In one process,
    the server's inbox writes therefore queue here, in order, so at most one of them waits on SQLite; and the
    inbox's workers wait (a little) before each transaction while an inbox write is waiting, so Slack's answer
    goes first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._waiting = 0

    @contextmanager
    def ingest(self, timeout: float) -> Iterator[None]:
        with self._idle:
            self._waiting += 1
        try:
            if not self._lock.acquire(timeout=timeout):
                raise TimeoutError("waited too long for this process's turn to write to SQLite")
            try:
                yield
            finally:
                self._lock.release()
        finally:
            with self._idle:
                self._waiting -= 1
                self._idle.notify_all()

    def let_ingest_go_first(self, at_most: float = YIELD_AT_MOST) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._waiting == 0, timeout=at_most)


_SQLITE_TURNS = _SqliteTurns()


def _write(deps: Deps, arrival: inbox.Arrival) -> bool:
    """The inbox INSERT, within PAPERBOT_INBOX_WRITE_TIMEOUT (a TimeoutError or the database's error past it)."""
    turn = _SQLITE_TURNS.ingest(deps.settings.inbox_write_timeout) if _sqlite(deps) else nullcontext()
    with turn, deps.inbox_sessions.begin() as session:
        return inbox.add(session=session, arrival=arrival)


def _sqlite(deps: Deps) -> bool:
    return deps.engine.dialect.name == "sqlite"


def backoff(attempts: int, *, scale: float, cap: float = MAX_WAIT) -> float:
    """Seconds before the next try of a row tried `attempts` times: 1, 2, 4, … `cap`, times `scale`, at least
    MIN_WAIT: `backoff(3, scale=1) == 4.0`."""
    step = min(cap, 2.0 ** max(0, attempts - 1))
    return max(MIN_WAIT, step * scale)


class Workers:
    """The inbox's worker threads of one process; `start`, then `stop` (bounded) when the process ends."""

    def __init__(self, deps: Deps, threads: int | None = None) -> None:
        self.deps = deps
        self.count = deps.settings.inbox_workers if threads is None else threads
        if _sqlite(deps):
            self.count = min(self.count, 1)  # SQLite writes one transaction at a time: a second worker only waits
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    def start(self) -> Workers:
        for n in range(self.count):
            thread = threading.Thread(target=self._run, name=f"paperbot-inbox-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.count:
            log.info("inbox: %d worker(s) applying stored Slack events", self.count)
        return self

    def request_stop(self) -> None:
        """Take no new rows (safe from a signal handler: it only sets flags)."""
        self.stopping.set()
        self.deps.inbox_bell.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Take no new rows, wait up to `timeout` seconds for rows in flight, then hand back every row this process
        still holds (a row that cannot be handed back, the database being down, is taken over when its lease
        ends). Returns within about `timeout` plus the inbox write bound."""
        self.request_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        try:
            with self.deps.inbox_sessions.begin() as session:
                handed = inbox.release(session=session, owner=self.owner)
        except SQLAlchemyError as exc:
            log.warning("inbox: rows in flight not handed back (%s); their lease ends them", first_line(exc)[:200])
            return
        if handed:
            log.info("inbox: %d row(s) in flight handed back for any worker", handed)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no row is due or held (rows waiting for a later try are not): for tests and tools."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.deps.inbox_bell.set()
            if self._quiet():
                return
            time.sleep(0.05)
        raise TimeoutError(f"the inbox did not drain within {timeout} s")

    def _quiet(self) -> bool:
        with self._busy_lock:
            if self._busy:
                return False
        with self.deps.sessions.begin() as session:
            return inbox.due(session=session) == 0

    # ---- one worker thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                with self._busy_lock:
                    self._busy += 1
                try:
                    worked = self._one_batch()
                finally:
                    with self._busy_lock:
                        self._busy -= 1
                failures = 0
            except SQLAlchemyError as exc:  # the database is away: wait, then look again
                failures += 1
                if failures == 1:
                    log.warning("inbox: cannot take rows (%s); trying again", first_line(exc)[:200])
                self.stopping.wait(backoff(failures, scale=self.deps.settings.retry_wait_scale, cap=10.0))
                continue
            if not worked:
                self.deps.inbox_bell.wait(IDLE_POLL)
                self.deps.inbox_bell.clear()

    def _one_batch(self) -> bool:
        """Take due rows and apply each; False when none was due."""
        lease = timedelta(seconds=self.deps.settings.inbox_lease_seconds)
        self._let_ingest_go_first()
        with self.deps.sessions.begin() as session:
            rows = inbox.take(session=session, owner=self.owner, lease=lease, limit=BATCH)
        for row in rows:
            if self.stopping.is_set():
                break  # the rest is handed back by stop()
            self._let_ingest_go_first()
            self._apply(row)
        return bool(rows)

    def _let_ingest_go_first(self) -> None:
        if _sqlite(self.deps):
            _SQLITE_TURNS.let_ingest_go_first()

    def _apply(self, row: inbox.Taken) -> None:
        """Apply one row, its log records naming its team, event and channel."""
        with log_context(team=row.team_id, event_id=row.event_id, channel=events.channel_of_json(row.body)):
            self._apply_body(row)

    def _apply_body(self, row: inbox.Taken) -> None:
        delivery = Delivery(
            team_id=row.team_id,
            event_id=row.event_id,
            bot_user_id=row.bot_user_id,
            event_type=row.event_type,
            inbox_id=row.id,
        )
        try:
            change = events.change_of(json.loads(row.body))
            outcome = change.apply(self.deps, delivery) if change else Outcome.IGNORED
        except NotStored as exc:
            self._failed(row, exc.reason, transient=exc.transient)
            return
        except Exception as exc:  # a bug or a body nobody can apply: tried a few times, then parked
            log.exception("inbox: applying Slack event %s (%s) failed", row.event_id, row.event_type)
            self._failed(row, f"{type(exc).__name__}: {first_line(exc)[:200]}", transient=False)
            return
        if outcome is Outcome.NOT_KNOWN_YET and self._age(row) < self.deps.settings.inbox_unknown_wait_seconds:
            wait = backoff(row.attempts, scale=self.deps.settings.retry_wait_scale, cap=UNKNOWN_MAX_WAIT)
            self._later(row, wait, "its message is not known yet")
            return
        if outcome in (Outcome.IGNORED, Outcome.NOT_KNOWN_YET):
            self._finish(row)  # CHANGED and UNCHANGED were finished in their change's transaction
        metrics.EVENTS_APPLIED.labels(row.event_type, outcome.name.lower()).inc()

    def _failed(self, row: inbox.Taken, reason: str, *, transient: bool) -> None:
        settings = self.deps.settings
        if (transient and self._age(row) < settings.inbox_park_after_seconds) or row.attempts < MAX_FAILURES:
            wait = backoff(row.attempts, scale=settings.retry_wait_scale)
            log.info(
                "inbox: Slack event %s (%s) failed (%s); again in %.1f s", row.event_id, row.event_type, reason, wait
            )
            self._later(row, wait, reason)
            metrics.EVENTS_FAILED.labels(row.event_type, "retry").inc()
            return
        metrics.EVENTS_FAILED.labels(row.event_type, "parked").inc()
        log.error(
            "inbox: Slack event %s (%s) of %s parked after %d tries: %s (see `paperbot inbox`)",
            row.event_id,
            row.event_type,
            row.team_id,
            row.attempts,
            reason,
        )
        self._write(lambda session: inbox.park(session=session, row_id=row.id, reason=reason))

    def _later(self, row: inbox.Taken, wait: float, why: str) -> None:
        when = utcnow() + timedelta(seconds=wait)
        self._write(
            lambda session: inbox.retry_at(session=session, row_id=row.id, owner=self.owner, when=when, error=why)
        )

    def _finish(self, row: inbox.Taken) -> None:
        self._write(lambda session: inbox.finish(session=session, row_id=row.id))

    def _write(self, change: Any) -> None:
        """A row's bookkeeping; when the database refuses it, the row's lease ends and it is tried again."""
        try:
            with self.deps.sessions.begin() as session:
                change(session)
        except SQLAlchemyError as exc:
            log.warning("inbox: a row's state was not saved (%s); its lease ends it", first_line(exc)[:200])

    @staticmethod
    def _age(row: inbox.Taken) -> float:
        return (utcnow() - aware(row.received_at)).total_seconds()
