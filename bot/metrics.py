"""paperbot's Prometheus metrics (docs/operations.md lists them) and `GET /metrics`, their text exposition.

The counters and histograms are module-level objects in prometheus-client's default registry, as that library
means them to be: each process counts for itself and is scraped on its own (`paperbot serve` is one process per
replica). This and the scheduler's job context are the deliberate module-level singletons (STYLE rule 6): the
places that count (the inbox, the command lane, the Slack client's hook, the HTTP sources' transport) import
them; nothing reads them back but the exposition. Inbox depth is read from the database at scrape time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from slack_sdk.http_retry import RetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from sqlalchemy.orm import Session, sessionmaker

from storage import inbox
from storage.db import bounded
from storage.models import utcnow
from storage.states import InboxState
from storage.text import first_line

log = logging.getLogger(__name__)

# The classic text format (every Prometheus reads it; paperbot's names need nothing newer).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCRAPE_DB_WAIT = 1.0  # seconds the inbox gauges may wait on the database; past it the scrape goes on without them
# Seconds: a command's answer is due within Slack's 3 s; a search is usually milliseconds.
COMMAND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

EVENTS_RECEIVED = Counter(
    "paperbot_events_received",
    "Slack activity events that reached the inbox, Slack's retries included, by type (type/subtype).",
    ["type"],
)
EVENTS_NOT_STORED = Counter(
    "paperbot_events_not_stored",
    "Slack events the inbox could not store (answered without a 200, so Slack sends them again), by type.",
    ["type"],
)
EVENTS_APPLIED = Counter(
    "paperbot_events_applied",
    "Inbox events applied, by type and outcome (changed, unchanged, ignored, not_known_yet).",
    ["type", "outcome"],
)
EVENTS_FAILED = Counter(
    "paperbot_events_failed",
    "Inbox events whose application failed, by type and what happens next (retry, or parked for good).",
    ["type", "next"],
)
COMMAND_SECONDS = Histogram(
    "paperbot_command_seconds",
    "Seconds from a /papers command's arrival to the end of its answer (the work after the ack included).",
    ["subcommand"],
    buckets=COMMAND_BUCKETS,
)
COMMAND_FAILURES = Counter(
    "paperbot_command_failures",
    "Commands and buttons whose work after the ack failed, by what (e.g. /papers digest) and why.",
    ["what", "reason"],
)
DIGEST_RUNS = Counter(
    "paperbot_digest_runs", "Channel digest runs, by how they ended (posted, resumed, empty, failed, ...).", ["status"]
)
DIGEST_MESSAGES = Counter("paperbot_digest_messages_posted", "Digest messages posted to Slack (header and papers).")
RECAP_MESSAGES = Counter(
    "paperbot_recap_messages_posted", "Weekly recap messages posted to Slack (the recap and its thread reply)."
)
SLACK_CALLS = Counter(
    "paperbot_slack_api_calls",
    "Slack Web API requests (every attempt, retries included), by method and result (ok, error, 429, 5xx, ...).",
    ["method", "result"],
)
SLACK_RATE_LIMITED = Counter(
    "paperbot_slack_api_rate_limited", "Slack Web API answers of HTTP 429, by method.", ["method"]
)
SOURCE_CALLS = Counter(
    "paperbot_source_requests",
    "Requests to the paper sources (hf, arxiv; every attempt), by result (2xx, 404, 429, 5xx, timeout, ...).",
    ["source", "result"],
)
SOURCE_ERRORS = Counter(
    "paperbot_source_errors",
    "Failed requests to the paper sources (no answer, 429, 5xx, other 4xx but 404), by source.",
    ["source"],
)
SEARCH_SECONDS = Histogram(
    "paperbot_search_seconds",
    "Seconds a search took, by where it ran (index, or database while the index loads).",
    ["engine"],
    buckets=SEARCH_BUCKETS,
)


# ---- Slack: a retry handler that never retries, consulted on every answer ---------------------------------------


class SlackCallCounter(RetryHandler):
    """Counts every Slack Web API attempt by method and result. slack_sdk asks each retry handler about every
    answer (a 200 too) and Bolt copies the handlers into the client it builds per request, so first in the list
    this sees every call of every client; it never asks for a retry itself."""

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rsplit("/", 1)[-1].split("?", 1)[0][:64] or "unknown"
        result = slack_result(response)
        SLACK_CALLS.labels(method, result).inc()
        if result == "429":
            SLACK_RATE_LIMITED.labels(method).inc()
        return False


def slack_result(response: HttpResponse | None) -> str:
    """`ok`, `error` (a 200 whose body says ok: false), `429`, `5xx`, `4xx`, or `no_answer` (no response)."""
    if response is None:
        return "no_answer"
    status = response.status_code
    if status == 200:
        ok = response.body.get("ok") if isinstance(response.body, dict) else None
        return "error" if ok is False else "ok"
    if status == 429:
        return "429"
    return "5xx" if status >= 500 else "4xx"


# ---- HTTP paper sources: a transport that counts --------------------------------------------------------------


class CountedTransport(httpx.BaseTransport):
    """httpx's transport, counting each request to a paper source (`hf`, `arxiv`) by result."""

    def __init__(self, source: str, **options: Any) -> None:
        self.source = source
        self._inner = httpx.HTTPTransport(**options)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._inner.handle_request(request)
        except httpx.TimeoutException:
            self._count("timeout", failed=True)
            raise
        except httpx.TransportError:
            self._count("connection_error", failed=True)
            raise
        status = response.status_code
        result = str(status) if status in (404, 429) else f"{status // 100}xx"
        self._count(result, failed=status >= 400 and status != 404)
        return response

    def _count(self, result: str, *, failed: bool) -> None:
        SOURCE_CALLS.labels(self.source, result).inc()
        if failed:
            SOURCE_ERRORS.labels(self.source).inc()

    def close(self) -> None:
        self._inner.close()


# ---- the inbox's depth, read at scrape time -------------------------------------------------------------------


class InboxCollector(Collector):
    """Inbox depth by state (pending, parked) and the age of the oldest pending event, from the database: three
    indexed queries, each bounded to SCRAPE_DB_WAIT; with the database away the scrape goes on without them."""

    def __init__(self, reads: sessionmaker[Session]) -> None:
        self.reads = reads

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with bounded(SCRAPE_DB_WAIT), self.reads.begin() as session:
                backlog = inbox.backlog(session=session)
        except Exception as exc:  # the scrape must answer whatever the database does
            log.warning("metrics: inbox depth not read (%s)", first_line(exc)[:200] or type(exc).__name__)
            yield _inbox_up(0)
            return
        yield _inbox_up(1)
        depth = GaugeMetricFamily("paperbot_inbox_events", "Inbox events waiting, by state.", labels=["state"])
        depth.add_metric([InboxState.PENDING.value], backlog.pending)
        depth.add_metric([InboxState.PARKED.value], backlog.parked)
        yield depth
        yield GaugeMetricFamily(
            "paperbot_inbox_oldest_pending_age_seconds",
            "Seconds since the oldest pending inbox event arrived (0 when none is pending).",
            value=_age(backlog.oldest_pending),
        )


def _inbox_up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "paperbot_inbox_stats_up", "1 when this scrape read the inbox's depth from the database, else 0.", value=value
    )


def _age(since: datetime | None) -> float:
    if since is None:
        return 0.0
    moment = since if since.tzinfo else since.replace(tzinfo=utcnow().tzinfo)
    return max(0.0, (utcnow() - moment).total_seconds())


class _Scrape:
    """What one scrape collects: this process's registry (or, in multiprocess mode, every process's files) and
    the inbox's gauges."""

    def __init__(self, reads: sessionmaker[Session] | None, multiproc_dir: str) -> None:
        self.parts: list[Any] = [REGISTRY]
        if multiproc_dir:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=multiproc_dir)  # type: ignore[no-untyped-call]
            self.parts = [merged]
        if reads is not None:
            self.parts.append(InboxCollector(reads))

    def collect(self) -> Iterable[Any]:
        for part in self.parts:
            yield from part.collect()


def exposition(reads: sessionmaker[Session] | None, *, multiproc_dir: str = "") -> tuple[bytes, str]:
    """The body and content type of a `GET /metrics` answer (Prometheus text format)."""
    return generate_latest(_Scrape(reads, multiproc_dir)), CONTENT_TYPE
