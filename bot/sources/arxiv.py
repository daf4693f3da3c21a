"""The arXiv API: id lookups in batches and category queries, parsed with feedparser into PaperRecords.

arXiv's terms of use: at most one request every 3 seconds, one connection at a time. Every request of every client
takes a turn from `TURNS`, the process's one arXiv limiter; failures are retried by bot.retrying's HTTP policy,
the turns spacing the tries (and a Retry-After honoured). A malformed id answers 400 with one entry whose id is
`http://arxiv.org/api/errors#…` (titled "Error"); a well-formed unknown id is simply absent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import feedparser
import httpx
from tenacity import wait_none

from bot.config import Settings
from bot.links import normalize_arxiv_id
from bot.metrics import CountedTransport
from bot.retrying import GaveUp, Sleep, Transient, http_retrying, retry_after, scaled_sleep
from bot.sources.hf import USER_AGENT, SourceError
from storage.records import PaperRecord

log = logging.getLogger(__name__)

INTERVAL = 3.0  # seconds between requests (arXiv's terms)
BATCH = 100  # ids per id_list request: a short URL and a quick answer
MAX_RESULTS = 2000  # arXiv's limit per call


class Turns:
    """One request at a time, each starting at least `interval` seconds after the previous one ended.
    `clock` and `sleep` are plain attributes, so a test can put an instance on a fake clock."""

    def __init__(
        self, interval: float, *, clock: Callable[[], float] = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.interval, self.clock, self.sleep = interval, clock, sleep
        self._lock = threading.Lock()
        self._last: float | None = None  # when the previous turn ended, on `clock`

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this turn and hold it while the body runs (a request and the reading of its answer)."""
        with self._lock:
            if self._last is not None and (wait := self._last + self.interval - self.clock()) > 0:
                self.sleep(wait)
            try:
                yield
            finally:
                self._last = self.clock()


# Process-wide because arXiv's limit is per client machine: every thread's and every client's requests (digests
# of several channels, shared links, `paperbot fetch`) share one turn.
TURNS = Turns(INTERVAL)


class ArxivError(SourceError):
    """arXiv refused the query (its error entry's text is the message) or could not be reached."""


def _text(value: Any) -> str | None:
    """Whitespace collapsed: arXiv titles and abstracts carry line breaks and leading indentation."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _day(parsed: Any) -> date | None:
    return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday) if parsed else None


def parse_entry(entry: Any) -> PaperRecord | None:
    """A PaperRecord of one Atom entry (a feedparser entry), or None when it names no arXiv id or title."""
    parsed = normalize_arxiv_id(str(entry.get("id", "")).split("/abs/")[-1])
    title = _text(entry.get("title"))
    if parsed is None or title is None:
        return None
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    return PaperRecord(
        arxiv_id=parsed[0],
        version=parsed[1],
        title=title,
        authors=[n for n in (_text(a.get("name")) for a in entry.get("authors", [])) if n],
        abstract=_text(entry.get("summary")),
        published=_day(entry.get("published_parsed")),
        updated=_day(entry.get("updated_parsed")),
        categories=[t["term"] for t in entry.get("tags", []) if t.get("term")],
        primary_category=primary,
        comments=_text(entry.get("arxiv_comment")),
        journal_ref=_text(entry.get("arxiv_journal_ref")),
        doi=_text(entry.get("arxiv_doi")),
        source="arxiv",
    )


def _error_entry(feed: Any) -> str | None:
    """The text of arXiv's error entry (`<id>http://arxiv.org/api/errors#…</id><title>Error</title><summary>…`),
    if the feed has one. Only the id tells: a real paper may well be titled "Error"."""
    for entry in feed.entries:
        if "/api/errors" in str(entry.get("id", "")):
            return _text(entry.get("summary")) or "unspecified error"
    return None


class ArxivClient:
    """The arXiv API, one request at a time and at most one every 3 seconds across the process (`TURNS`, unless
    a test passes `turns` of its own). `sleep` waits out a Retry-After (by default `time.sleep` scaled by
    PAPERBOT_RETRY_WAIT_SCALE)."""

    def __init__(
        self,
        source: Settings | str,
        *,
        timeout: float | None = None,
        retries: int = 2,
        batch_size: int = BATCH,
        turns: Turns | None = None,
        sleep: Sleep | None = None,
        max_wait: float = 300.0,
    ) -> None:
        self.url = source if isinstance(source, str) else source.arxiv_api_url
        self.timeout = timeout or (20.0 if isinstance(source, str) else source.http_timeout)
        self.retries, self.batch_size, self.max_wait = retries, batch_size, max_wait
        self._turns = TURNS if turns is None else turns
        scale = 1.0 if isinstance(source, str) else source.retry_wait_scale
        self._sleep = scaled_sleep(scale) if sleep is None else sleep
        self._http = httpx.Client(
            timeout=self.timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=CountedTransport("arxiv", limits=httpx.Limits(max_connections=1)),
        )

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def by_ids(self, ids: Iterable[str]) -> list[PaperRecord]:
        """The papers among `ids` (any spelling; versions ignored) that arXiv knows, in batches via id_list."""
        wanted: list[str] = []
        for raw in ids:
            parsed = normalize_arxiv_id(raw)
            if parsed is None:
                raise ValueError(f"{raw!r} is not an arXiv id")
            if parsed[0] not in wanted:
                wanted.append(parsed[0])
        records: list[PaperRecord] = []
        for start in range(0, len(wanted), self.batch_size):
            batch = wanted[start : start + self.batch_size]
            records.extend(self._records({"id_list": ",".join(batch), "max_results": str(len(batch))}))
        return records

    def by_category(self, category: str, *, start: int = 0, max_results: int = 100) -> list[PaperRecord]:
        """The newest submissions in `category` (e.g. `cs.LG`), `max_results` from offset `start`."""
        if not 1 <= max_results <= MAX_RESULTS or start < 0:
            raise ValueError(f"max_results must be 1..{MAX_RESULTS} and start ≥ 0")
        return self._records(
            {
                "search_query": f"cat:{category}",
                "start": str(start),
                "max_results": str(max_results),
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
        )

    # ---- plumbing ------------------------------------------------------------------------------------------
    def _records(self, params: dict[str, str]) -> list[PaperRecord]:
        feed = self._feed(params)
        records = [parse_entry(entry) for entry in feed.entries]
        return [r for r in records if r is not None]

    def _feed(self, params: dict[str, str]) -> Any:
        """The parsed feed of one query, retried on timeouts, 5xx, 429 and malformed bodies: no backoff of its
        own, since every try waits for its turn (3 s after the previous answer), only the Retry-After asked for."""
        retrying = http_retrying(
            retries=self.retries,
            backoff=wait_none(),
            max_wait=self.max_wait,
            sleep=self._sleep,
            log=log,
            what=f"arXiv query {params}",
            level=logging.INFO,
        )
        try:
            return retrying(self._attempt, params)
        except GaveUp as exc:
            if exc.asked is not None:
                raise ArxivError(
                    f"{self.url} asks us to wait another {exc.asked:.0f}s ({exc.reason}): try again later"
                ) from None
            tries = f"{exc.tries} tries" if exc.tries > 1 else "one try"
            raise ArxivError(
                f"gave up on {self.url} after {tries}: {exc.reason}. Check the network and ARXIV_API_URL,"
                " or try again later"
            ) from None

    def _attempt(self, params: dict[str, str]) -> Any:
        """One request in its turn: the parsed feed; Transient for a failure worth retrying, ArxivError else."""
        with self._turns.turn():  # one connection at a time, even across threads and clients
            try:
                response = self._http.get(self.url, params=params)
            except httpx.TimeoutException:
                raise Transient(f"no answer within {self.timeout:g}s") from None
            except httpx.TransportError as exc:
                raise Transient(f"connection failed ({exc.__class__.__name__}: {exc})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            asked = retry_after(response.headers, datetime.now(UTC)) if status in (429, 503) else None
            raise Transient(f"HTTP {status}", asked)
        feed = feedparser.parse(response.content)
        error = _error_entry(feed)
        if error is not None:
            raise ArxivError(f"arXiv refused the query {params}: {error}")
        if not response.is_success:
            raise ArxivError(f"{self.url} answered HTTP {status}; not retried: check ARXIV_API_URL")
        benign = isinstance(feed.get("bozo_exception"), feedparser.CharacterEncodingOverride)
        if (feed.bozo and not benign) or not str(feed.get("version", "")).startswith("atom"):
            raise Transient(f"the answer is not a well-formed Atom feed ({feed.get('bozo_exception', 'no feed')})")
        return feed
