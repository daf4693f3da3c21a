"""The search index of a running bot: loaded from the database in the background, then kept current by polling.

`SearchService.start()` returns at once; a background thread loads the index saved in the cache folder at the
last run (bot/search/snapshot.py) and catches it up, or else loads every paper (a page per short transaction)
into a fresh `SearchIndex` and saves it there; then every `poll_seconds` it reads the papers whose `updated_at`
moved since its watermark, whichever process or replica stored them. Until the load is done, `search()` answers from the
database itself (every title read and scored with rapidfuzz): slower, but the same kind of answer.

The watermark trails both the newest change seen and this process's clock by `overlap_seconds`, so a row stamped
a little before another (a transaction committing late, replicas' clocks apart by less than the overlap) is still
read, and a bulk store is re-read for one overlap, not at every poll; rows re-read unchanged are skipped.
"""

from __future__ import annotations

import gc
import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.search import loading, snapshot
from bot.search.bulk import Batch
from bot.search.index import BulkPart, SearchDoc, SearchHit, SearchIndex, give_back_memory
from bot.search.rank import TeamSignal, title_similarities, with_team_signal
from bot.search.text import comparable
from storage.search import (
    SearchRow,
    changed_page,
    database_identity,
    key_at,
    latest_change,
    papers_count,
    stamped_before,
    stamped_since,
    stamps_of,
    title_page,
)
from storage.text import first_line

log = logging.getLogger(__name__)

PAGE = 5000  # papers per read (and per transaction)
COMPACT_AFTER = 2_000_000  # postings added since the last compaction before the index folds them in
RESAVE_AFTER = 50_000  # papers applied since the snapshot was loaded or saved before it is saved again
SAMPLE = 8  # papers below the watermark whose stamps a snapshot keeps, to recognise the database it came from
PARALLEL_FROM = 50_000  # papers from which a build reads and tokenises half of them in a helper process
OWN_SHARE = 0.53  # the share of the pages a split build reads in this process (the helper first starts: ~2 s)


class SearchService:
    """Paper search over the database behind `sessions`, for `/papers search` and `paperbot search`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        poll_seconds: float = 3.0,
        overlap_seconds: float = 10.0,
        all_abstracts: bool = False,
        cache: Path | None = None,
        parallel_from: int = PARALLEL_FROM,
    ) -> None:
        self._sessions = sessions
        self._parallel_from = parallel_from  # papers from which a build uses a helper process (bot/search/loading.py)
        self._cache = cache  # the folder of index snapshots (None: build at every start)
        self._unsaved = 0  # papers applied since the snapshot was loaded or saved
        self.poll_seconds = poll_seconds
        self._overlap = timedelta(seconds=overlap_seconds)
        self._all_abstracts = all_abstracts
        self._index: SearchIndex | None = None
        self._since: datetime | None = None  # the watermark: papers changed at or after it are read again
        self._seen: dict[str, datetime] = {}  # papers applied with updated_at >= the watermark
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._settled = threading.Event()

    @property
    def ready(self) -> bool:
        """True once the index is loaded (before that, searches read the database)."""
        return self._index is not None

    @property
    def settled(self) -> bool:
        """True once the background thread has finished its start: the index loaded, its snapshot saved (after a
        build) and the first poll applied. Searches answer from `ready` on; until `settled`, the save and the
        first poll (which re-reads the papers stamped just before the load) share the machine with them."""
        return self._settled.is_set()

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
        """The best `limit` papers for `query`; see `SearchIndex.search` for `accept` and `boost`. Timed
        (paperbot_search_seconds), by where it ran."""
        index = self._index
        started = time.perf_counter()
        if index is not None:
            hits = index.search(query, limit, accept=accept, boost=boost)
        else:
            hits = self._search_database(query, limit, accept, boost)
        engine = "index" if index is not None else "database"
        metrics.SEARCH_SECONDS.labels(engine).observe(time.perf_counter() - started)
        return hits

    def warm(self) -> int:
        """Load every paper into a new index and make it the one searched; returns how many are indexed.

        With a cache folder, the index saved there (bot/search/snapshot.py) is loaded instead when it was built
        from this database, then caught up from its watermark before it is searched; an index built from the
        database is saved there for the next start."""
        started = time.monotonic()
        place = self._snapshot_place()
        loaded = self._load_snapshot(*place) if place is not None else None
        index, since, seen = loaded if loaded is not None else self._build()
        with self._refreshing:
            self._since, self._seen = since, seen
            caught_up = self._apply_changes(index) if loaded is not None else 0
            self._index = index
        how = f"from its snapshot, {caught_up} changed since," if loaded is not None else "from the database"
        log.info("search index: %d papers loaded %s in %.1f s", len(index), how, time.monotonic() - started)
        if place is not None and (loaded is None or self._unsaved >= RESAVE_AFTER):
            self._save(index, *place)
        _out_of_gc()
        return len(index)

    def refresh(self) -> int:
        """Apply the papers changed since the watermark (any process's changes); returns how many changed."""
        index = self._index
        if index is None:
            return 0
        with self._refreshing:
            applied = self._apply_changes(index)
        if self._unsaved >= RESAVE_AFTER and (place := self._snapshot_place()) is not None:
            self._save(index, *place)
        return applied

    def _build(self) -> tuple[SearchIndex, datetime | None, dict[str, datetime]]:
        """A new index of every paper, with the watermark its first poll starts from."""
        with self._sessions.begin() as session:
            newest = latest_change(session=session)
            # Anything stamped within the overlap before the load began may have been missed by its pages (a
            # transaction committing late): the first poll reads it again. As at every poll, the watermark trails
            # both the newest change and the clock, so after a bulk store it does not cover the whole store.
            since = min(newest, datetime.now(UTC) - self._overlap) if newest is not None else None
            # Their stamps now, read before the load (which reads no stamps: parsing a million costs seconds):
            # the first poll skips those still stamped so, as the load read them; any changed since differ.
            seen = stamped_since(session=session, since=since) if since is not None else {}
        index = SearchIndex()
        index.bulk_load_batches(self._all_rows())
        return index, since, seen

    def _apply_changes(self, index: SearchIndex) -> int:
        """Add the papers changed since the watermark to `index` and move the watermark; the caller holds
        `_refreshing`."""
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
            _out_of_gc()
        self._unsaved += applied
        return applied

    def _snapshot_place(self) -> tuple[Path, str] | None:
        """The snapshot file of this database and the database's identity, or None without a cache folder."""
        if self._cache is None:
            return None
        with self._sessions.begin() as session:
            identity = database_identity(session=session)
        if identity is None:
            return None
        where, which = identity
        return snapshot.snapshot_path(self._cache, where), f"{where} {which}"

    def _load_snapshot(
        self, path: Path, identity: str
    ) -> tuple[SearchIndex, datetime | None, dict[str, datetime]] | None:
        """The saved index with its watermark, or None (and one log line) when there is none fit to use."""
        try:
            meta, arrays = snapshot.read(path, identity)
            index = SearchIndex.restore(arrays)
            since = datetime.fromisoformat(meta["since"]) if meta["since"] else None
            seen = _unpack_stamps(arrays["seen.keys"], arrays["seen.stamps"])
            with self._sessions.begin() as session:
                _check_against(session, meta, since, len(index))
        except (snapshot.SnapshotError, ValueError, KeyError, TypeError) as exc:
            level = logging.INFO if str(exc) == "no snapshot yet" else logging.WARNING
            log.log(level, "search index: snapshot %s not used (%s); building from the database", path, exc)
            return None
        self._unsaved = 0
        return index, since, seen

    def _save(self, index: SearchIndex, path: Path, identity: str) -> None:
        """Save the index and its watermark for the next start (a failure is logged: the next start rebuilds)."""
        started = time.monotonic()
        with self._refreshing:
            arrays = index.export()
            since, seen, self._unsaved = self._since, dict(self._seen), 0
        try:
            with self._sessions.begin() as session:
                sample = stamped_before(session=session, before=since, limit=SAMPLE) if since is not None else {}
            arrays |= dict(zip(("seen.keys", "seen.stamps"), _pack_stamps(seen), strict=True))
            meta = {
                "since": since.isoformat() if since else None,
                "sample": {k: v.isoformat() for k, v in sample.items()},
            }
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            snapshot.write(path, identity, meta, arrays)
        except Exception as exc:  # the index is in use all the same; the next start builds it again
            log.warning("search index: could not save its snapshot to %s (%s)", path, exc)
            return
        finally:
            del arrays
            give_back_memory()  # the export's copies
        log.info(
            "search index: snapshot of %d papers saved to %s in %.1f s", len(index), path, time.monotonic() - started
        )

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
                self._settled.set()
            except (OperationalError, InterfaceError) as exc:  # the database is away: one line, no traceback
                log.warning(
                    "search index: the database did not answer (%s); trying again at the next poll", first_line(exc)
                )
            except Exception:
                log.exception("search index: reading changed papers failed; trying again at the next poll")

    def _all_rows(self) -> Iterator[Batch | BulkPart]:
        """Every paper, page by page (see `loading.read_pages`); for a large database on a lasting place, the
        later pages come as one part a helper process read and tokenised meanwhile (bot/search/loading.py)."""
        split = self._split()
        if split is None:
            yield from self._pages()
            return
        url, key = split
        try:
            helper = loading.Helper(url, key, PAGE, self._all_abstracts)
        except Exception as exc:  # no process can be started here: one process reads everything
            log.warning("search index: no helper process for the build (%s); building in this one", first_line(exc))
            yield from self._pages()
            return
        try:
            yield from self._pages(upto=key)
            part = helper.result(self._stop)
        except loading.HelperFailed as exc:
            log.warning("search index: the build's helper process failed (%s); reading its papers here", exc)
            part = None
            yield from self._pages(after=key)
        finally:
            helper.close()
        if part is not None:
            log.info("search index: %d papers after %s read and tokenised by a helper process", len(part), key)
            yield part

    def _pages(self, *, after: str | None = None, upto: str | None = None) -> Iterator[Batch]:
        return loading.read_pages(
            self._sessions, page=PAGE, all_abstracts=self._all_abstracts, stop=self._stop, after=after, upto=upto
        )

    def _split(self) -> tuple[str, str] | None:
        """(the database's URL, the last arxiv_id this process reads) for a build split with a helper process,
        or None to read every paper here: a small database (a process start would cost more than it saves), or
        one only this process can reach (SQLite in memory). The key ends a page, so both processes read the
        pages one process would."""
        bind = self._sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            return None
        url = bind.url
        if url.get_backend_name() == "sqlite" and (
            url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
        ):
            return None
        with self._sessions.begin() as session:
            count = papers_count(session=session)
            pages = -(-count // PAGE)
            own = round(pages * OWN_SHARE)
            if count < self._parallel_from or not 0 < own < pages:
                return None
            key = key_at(session=session, offset=own * PAGE - 1)
        return (url.render_as_string(hide_password=False), key) if key is not None else None

    def _changed_rows(self) -> Iterator[SearchRow]:
        if self._since is None:  # the table was empty at load: everything is new
            self._since = datetime.min.replace(tzinfo=UTC)
        after: tuple[datetime, str] | None = None
        if self._since <= datetime.now(UTC) - self._overlap:
            # The papers seen at the watermark itself (a bulk store's last batch shares one stamp: 5,000 rows,
            # 130 ms a poll at every poll) were stamped longer ago than the overlap: start after them.
            at_watermark = [key for key, stamp in self._seen.items() if stamp == self._since]
            after = (self._since, max(at_watermark)) if at_watermark else None
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


def _out_of_gc() -> None:
    """Take the objects alive now (the index's: its vocabulary holds lists of a million terms) out of the cyclic
    garbage collector's sight (`gc.freeze`), after collecting what is garbage. A full collection walks every
    item of those lists: 160 ms at a million papers, a pause for whatever search was running, and in a measured
    run it came often enough to double the answer's median. Frozen objects are still freed when nothing refers
    to them; a compaction's new lists are frozen after it."""
    gc.collect()
    gc.freeze()


def _doc(row: SearchRow) -> SearchDoc:
    return SearchDoc(row.arxiv_id, row.title, tuple(row.authors), tuple(row.keywords), row.abstract)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _pack_stamps(stamps: dict[str, datetime]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.frombuffer("\n".join(stamps).encode(), np.uint8)
    micros = np.array([(stamp - _EPOCH) // _MICROSECOND for stamp in stamps.values()], np.int64)
    return keys, micros


def _unpack_stamps(keys: np.ndarray, micros: np.ndarray) -> dict[str, datetime]:
    text = keys.tobytes().decode()
    names = text.split("\n") if text else []
    return {key: _EPOCH + int(value) * _MICROSECOND for key, value in zip(names, micros.tolist(), strict=True)}


def _check_against(session: Session, meta: dict[str, object], since: datetime | None, papers: int) -> None:
    """ValueError unless the database still looks like the one the snapshot was built from: it holds at least
    as many papers (paperbot never deletes one), and the sampled papers below the watermark are there with the
    same stamps (or newer ones, at or after the watermark: changed since, which the catch-up reads)."""
    if papers_count(session=session) < papers:
        raise ValueError("the database holds fewer papers than the snapshot")
    sample = meta.get("sample")
    if not isinstance(sample, dict):
        raise ValueError("no sample in the snapshot")
    now = stamps_of(session=session, keys=list(sample))
    for key, saved in sample.items():
        stamp = now.get(key)
        if stamp is None or (stamp != datetime.fromisoformat(saved) and (since is None or stamp < since)):
            raise ValueError(f"paper {key} is not as the snapshot saw it")
