"""Slack's side of bench/fault_bench.py: event deliveries with Slack's retries, and slash commands, timed."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from bench.fault_ledger import CHANNEL, Ledger, Sent
from bench.search_http import Arrivals
from tests.fakes.slack import FakeSlack, SlackSender

SLACK_TIMEOUT = 3.0  # Slack gives up on a delivery (and on a command's answer) after 3 s
RETRY_DELAYS = (2.0, 6.0, 15.0)  # Slack retries at once, after a minute and after five; compressed here


@dataclass
class Deliveries:
    """Slack's side of the Events API: deliver each event, retry what got no 200 (at most 3 times)."""

    endpoint: str
    ledger: Ledger
    workers: int
    latencies: list[float] = field(default_factory=list)  # seconds to each 200
    outcomes: Counter[str] = field(default_factory=Counter)
    gave_up: int = 0
    _retries: list[tuple[float, int, int, str, Sent]] = field(default_factory=list)
    _inflight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="slack")

    def send(self, sent: Sent, retry: int = 0, reason: str = "") -> None:
        """Deliver `sent` now (`retry` > 0: Slack's n-th retry, with the reason the one before failed)."""
        with self._lock:
            self._inflight += 1
        self.pool.submit(self._deliver, sent, retry, reason)

    def send_due(self, now: float) -> None:
        """Send the retries whose time has come."""
        while True:
            with self._lock:
                if not self._retries or self._retries[0][0] > now:
                    return
                _, _, retry, reason, sent = heapq.heappop(self._retries)
            self.send(sent, retry, reason)

    def idle(self) -> bool:
        with self._lock:
            return not self._retries and not self._inflight

    def _sender(self) -> SlackSender:
        if not hasattr(self._local, "sender"):
            self._local.sender = SlackSender(self.endpoint)
            self._local.sender.client.timeout = httpx.Timeout(SLACK_TIMEOUT)
        sender: SlackSender = self._local.sender
        return sender

    def _deliver(self, sent: Sent, retry: int, reason: str) -> None:
        began, failure = time.monotonic(), "http_error"
        try:
            sender = self._sender()
            response = sender.event(sent.event, event_id=sent.event_id, retry_num=retry or None, retry_reason=reason)
            outcome = str(response.status_code)
        except httpx.TimeoutException:
            outcome = failure = "http_timeout"
        except httpx.TransportError:
            outcome = failure = "connection_failed"
        now = time.monotonic()
        with self._lock:
            sent.attempts += 1
            self.outcomes[outcome] += 1
            self._inflight -= 1
            if outcome == "200":
                self.latencies.append(now - began)
            elif retry < len(RETRY_DELAYS):
                due = now + RETRY_DELAYS[retry]
                heapq.heappush(self._retries, (due, next(self._order), retry + 1, failure, sent))
            else:
                self.gave_up += 1
        if outcome == "200":
            self.ledger.acked(sent, now)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@dataclass
class Commands:
    """`/papers help` and `/papers top` in turn, once a second while the bot is up; each answer timed."""

    endpoint: str
    slack: FakeSlack
    arrivals: Arrivals
    answers: list[tuple[str, float | None]] = field(default_factory=list)  # (text, seconds to the answer)
    skipped: int = 0  # seconds the bot was down (SIGKILL): nobody's command could reach it
    late_ones: list[str] = field(default_factory=list)  # each late answer: what, when, why (for the report)
    started: float = field(default_factory=time.perf_counter)
    _local: threading.local = field(default_factory=threading.local)

    def run(self, up: threading.Event, stop: threading.Event) -> None:
        """Until `stop`: a command a second while `up` is set (the bot answers), else count the second skipped."""
        with ThreadPoolExecutor(8, thread_name_prefix="commands") as pool:
            for n in itertools.count():
                if stop.wait(1.0):
                    return
                if not up.is_set():
                    self.skipped += 1
                    continue
                pool.submit(self._one, "help" if n % 2 else "top", f"cmd{n}")

    def _one(self, text: str, key: str) -> None:
        if not hasattr(self._local, "sender"):
            self._local.sender = SlackSender(self.endpoint)
        began = time.perf_counter()
        try:
            response = self._local.sender.command(text, channel=CHANNEL, response_url=self.slack.response_url(key))
        except httpx.TransportError as exc:
            self._answered(text, began, None, type(exc).__name__)
            return
        if response.status_code != 200:
            self._answered(text, began, None, f"HTTP {response.status_code}")
        elif response.content:  # answered in the ack (help)
            self._answered(text, began, time.perf_counter() - began, "in the ack")
        else:
            arrived = self.arrivals.wait(key, 10.0)
            self._answered(text, began, None if arrived is None else arrived - began, "at the response_url")

    def _answered(self, text: str, began: float, seconds: float | None, how: str) -> None:
        self.answers.append((text, seconds))
        if seconds is None or seconds > SLACK_TIMEOUT:
            took = "no answer" if seconds is None else f"{seconds:.1f} s"
            self.late_ones.append(f"{text} at {began - self.started:.0f} s: {took} ({how})")

    def late(self, text: str | None = None) -> int:
        """Answers (of `text` commands, or all) that came later than Slack's 3 s, or never."""
        return sum(seconds is None or seconds > SLACK_TIMEOUT for t, seconds in self.answers if text in (None, t))

    def sent(self, text: str) -> int:
        return sum(t == text for t, _ in self.answers)
