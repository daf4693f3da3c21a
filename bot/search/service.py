"""The search index of a running bot: loaded from the database in the background, then kept current by polling.

`SearchService.start()` returns at once; a background thread loads every paper (a page per short transaction)
into a fresh `SearchIndex`, then every `poll_seconds` reads the papers whose `updated_at` moved since its
watermark, whichever process or replica stored them. Until the load is done, `search()` answers from the
database itself (every title read and scored with rapidfuzz): slower, but the same kind of answer.

The watermark trails both the newest change seen and this process's clock by `overlap_seconds`, so a row stamped
a little before another (a transaction committing late, replicas' clocks apart by less than the overlap) is still
read, and a bulk store is re-read for one overlap, not at every poll; rows re-read unchanged are skipped.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.search.index import SearchDoc, SearchHit, SearchIndex
from bot.search.rank import TeamSignal, title_similarities, with_team_signal
from bot.search.text import comparable
from storage.search import SearchRow, changed_page, latest_change, papers_page, title_page

log = logging.getLogger(__name__)

PAGE = 5000  # papers per read (and per transaction)
COMPACT_AFTER = 2_000_000  # postings added since the last compaction before the index folds them in


class SearchService:
    """Paper search over the database behind `sessions`, for `/papers search` and `paperbot search`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        poll_seconds: float = 3.0,
        overlap_seconds: float = 10.0,
        all_abstracts: bool = False,
    ) -> None:
        self._sessions = sessions
        self.poll_seconds = poll_seconds
        self._overlap = timedelta(seconds=overlap_seconds)
        self._all_abstracts = all_abstracts
        self._index: SearchIndex | None = None
        self._since: datetime | None = None  # the watermark: papers changed at or after it are read again
        self._seen: dict[str, datetime] = {}  # papers applied with updated_at >= the watermark
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._abandon = threading.Event()  # the load stopped reading: its page reader ends too
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """True once the index is loaded (before that, searches read the database)."""
        return self._index is not None

    def start(self) -> None:
        """Load the index and keep polling, in a daemon thread; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="search-index", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread (a load in progress ends after its current page)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def search(
        self,
        query: str,
        limit: int = 10,
        *,
        accept: Callable[[str], bool] | None = None,
        boost: TeamSignal | None = None,
    ) -> list[SearchHit]:
        """The best `limit` papers for `query`; see `SearchIndex.search` for `accept` and `boost`."""
        index = self._index
        if index is not None:
            return index.search(query, limit, accept=accept, boost=boost)
        return self._search_database(query, limit, accept, boost)

    def warm(self) -> int:
        """Load every paper into a new index and make it the one searched; returns how many were loaded."""
        started = time.monotonic()
        with self._sessions.begin() as session:
            newest = latest_change(session=session)
        # Anything stamped since just before the load began may have been missed by its pages: the first poll
        # reads it again, skipping what the load already saw as it is.
        since = newest - self._overlap if newest is not None else None
        seen: dict[str, datetime] = {}

        def docs() -> Iterator[SearchDoc]:
            for row in self._all_rows():
                if since is not None and row.updated_at >= since:
                    seen[row.arxiv_id] = row.updated_at
                yield _doc(row)

        index = SearchIndex()
        count = index.bulk_load(docs())
        with self._refreshing:
            self._since, self._seen, self._index = since, seen, index
        log.info("search index: %d papers loaded in %.1f s", count, time.monotonic() - started)
        return count

    def refresh(self) -> int:
        """Apply the papers changed since the watermark (any process's changes); returns how many changed."""
        index = self._index
        if index is None:
            return 0
        with self._refreshing:
            applied = 0
            for row in self._changed_rows():
                if self._seen.get(row.arxiv_id) != row.updated_at:
                    index.add(_doc(row))
                    applied += 1
                self._seen[row.arxiv_id] = row.updated_at
            if self._seen:
                # The watermark trails both the newest change and the clock by the overlap: rows stamped more
                # than `overlap` ago are not read again, so a bulk store is re-read for a few polls, not forever.
                newest = max(self._seen.values())
                horizon = min(newest, datetime.now(UTC) - self._overlap)
                self._since = max(self._since or horizon, horizon)
                self._seen = {key: stamp for key, stamp in self._seen.items() if stamp >= self._since}
            if index.pending > COMPACT_AFTER:
                index.compact()
            return applied

    def _run(self) -> None:
        delay = self.poll_seconds
        while not self._stop.is_set() and self._index is None:
            try:
                self.warm()
            except Exception:
                log.exception("search index: loading papers failed; retrying in %.0f s", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 300.0)
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("search index: reading changed papers failed; trying again at the next poll")

    def _all_rows(self) -> Iterator[SearchRow]:
        """Every paper, page by page. A reader thread fetches the next pages while this one indexes the last:
        the database's work and the driver's waiting release the GIL, so the load takes about the longer of
        the two rather than their sum."""
        pages: queue.Queue[list[SearchRow] | BaseException | None] = queue.Queue(maxsize=4)
        reader = threading.Thread(target=self._read_pages, args=(pages,), name="search-index-reader", daemon=True)
        reader.start()
        try:
            while (page := pages.get()) is not None:
                if isinstance(page, BaseException):
                    raise page
                yield from page
        finally:
            self._abandon.set()
            reader.join()
            self._abandon.clear()

    def _read_pages(self, pages: queue.Queue[list[SearchRow] | BaseException | None]) -> None:
        after: str | None = None
        try:
            while not self._stop.is_set() and not self._abandon.is_set():
                with self._sessions.begin() as session:
                    rows = papers_page(session=session, after=after, limit=PAGE, all_abstracts=self._all_abstracts)
                _put(pages, rows, self._abandon)
                if len(rows) < PAGE:
                    break
                after = rows[-1].arxiv_id
        except BaseException as exc:  # handed to the loading thread, which raises it
            _put(pages, exc, self._abandon)
            return
        _put(pages, None, self._abandon)

    def _changed_rows(self) -> Iterator[SearchRow]:
        if self._since is None:  # the table was empty at load: everything is new
            self._since = datetime.min.replace(tzinfo=UTC)
        after: tuple[datetime, str] | None = None
        while True:
            with self._sessions.begin() as session:
                rows = changed_page(
                    session=session, since=self._since, after=after, limit=PAGE, all_abstracts=self._all_abstracts
                )
            yield from rows
            if len(rows) < PAGE:
                return
            after = (rows[-1].updated_at, rows[-1].arxiv_id)

    def _search_database(
        self, query: str, limit: int, accept: Callable[[str], bool] | None, boost: TeamSignal | None
    ) -> list[SearchHit]:
        """Score every title (and author list) in the database: what answers while the index loads."""
        wanted = comparable(query[:2000]) if isinstance(query, str) else ""
        if limit <= 0 or not wanted.strip():
            return []
        best: list[tuple[float, str, str]] = []
        after: str | None = None
        while True:
            with self._sessions.begin() as session:
                read = title_page(session=session, after=after, limit=PAGE)
            page = read if accept is None else [row for row in read if accept(row[0])]
            texts = [comparable(f"{title} {' '.join(authors)}") for _, title, authors in page]
            for (key, title, _), score in zip(page, title_similarities(wanted, texts).tolist(), strict=True):
                heapq.heappush(best, (score, key, title))
                if len(best) > limit * 4:
                    heapq.heappop(best)
            if len(read) < PAGE:
                break
            after = read[-1][0]
        ranked = with_team_signal([(score, n, key) for n, (score, key, _) in enumerate(best)], boost)[:limit]
        titles = {key: title for _, key, title in best}
        return [SearchHit(key, titles[key], round(score, 2)) for score, _, key in ranked]


def _put(pages: queue.Queue[list[SearchRow] | BaseException | None], item: object, abandon: threading.Event) -> None:
    """Hand `item` to the loading thread, unless it stopped listening."""
    while not abandon.is_set():
        try:
            pages.put(item, timeout=0.1)  # type: ignore[arg-type]
            return
        except queue.Full:
            continue


def _doc(row: SearchRow) -> SearchDoc:
    return SearchDoc(row.arxiv_id, row.title, tuple(row.authors), tuple(row.keywords), row.abstract)
