"""Reading every paper for a build of the search index: page by page in a reader thread, and for a large database
the later half of the pages in a helper process.

Tokenising is Python and holds the GIL, and so does most of reading a page, so one process builds on one core.
A helper process, started with `spawn` (never fork: the bot has server and scheduler threads), opens its own
engine on the same database, reads the papers after a split key and tokenises them into its own vocabulary
(`SearchIndex.collect`), while the bot's process does the papers up to that key; the bot's index then appends
the helper's part (`SearchIndex.bulk_load_batches`) and compacts once. The split falls on a page boundary, so
both read the very pages a single process would, and the index is the one a single process builds, term ids
included. If the helper cannot start, fails or dies, the bot's process reads the helper's papers itself.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from bot.search.bulk import Batch
from bot.search.index import BulkPart, SearchIndex
from storage.search import papers_page
from storage.text import first_line


class HelperFailed(Exception):
    """The helper process did not deliver its part of the build."""


def read_pages(
    sessions: sessionmaker[Session],
    *,
    page: int,
    all_abstracts: bool,
    stop: threading.Event,
    after: str | None = None,
    upto: str | None = None,
) -> Iterator[Batch]:
    """The papers with arxiv_id after `after` and up to `upto` (None: no bound), a page per transaction, by
    arxiv_id. A reader thread fetches the next pages while the caller indexes the last: the database's work and
    the driver's waiting release the GIL, so the load takes about the longer of the two rather than their sum.
    Ends early (without error) once `stop` is set."""
    pages: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=4)
    abandon = threading.Event()  # the caller stopped reading: the reader ends too

    def read() -> None:
        at = after
        try:
            while not stop.is_set() and not abandon.is_set():
                with sessions.begin() as session:
                    rows = papers_page(session=session, after=at, upto=upto, limit=page, all_abstracts=all_abstracts)
                _put(pages, Batch.of_rows(rows), abandon)
                if len(rows) < page:
                    break
                at = rows[-1][0]
        except BaseException as exc:  # handed to the caller's thread, which raises it
            _put(pages, exc, abandon)
            return
        _put(pages, None, abandon)

    reader = threading.Thread(target=read, name="search-index-reader", daemon=True)
    reader.start()
    try:
        while (batch := pages.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        abandon.set()
        reader.join()


def _put(pages: queue.Queue[Batch | BaseException | None], item: object, abandon: threading.Event) -> None:
    """Hand `item` to the loading thread, unless it stopped listening."""
    while not abandon.is_set():
        try:
            pages.put(item, timeout=0.1)  # type: ignore[arg-type]
            return
        except queue.Full:
            continue


def build_part(url: str, after: str, page: int, all_abstracts: bool, answer: Connection) -> None:
    """The helper process: tokenise the papers after `after` of the database at `url` and send the part back
    (`_send`), or one line saying why not."""
    from storage.db import make_engine, make_sessions, reading

    try:
        engine = make_engine(url)
        try:
            sessions = reading(make_sessions(engine))
            stop = threading.Event()
            part = SearchIndex.collect(
                read_pages(sessions, page=page, all_abstracts=all_abstracts, stop=stop, after=after)
            )
        finally:
            engine.dispose()
        _send(answer, part)
    except Exception as exc:
        answer.send(f"{type(exc).__name__}: {first_line(exc)}")
    finally:
        answer.close()


HELPER: Callable[[str, str, int, bool, Connection], None] = build_part  # what the helper process runs


class Helper:
    """A helper process building the part of the index after a key; `result()` waits for it."""

    def __init__(self, url: str, after: str, page: int, all_abstracts: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._answers, answer = context.Pipe(duplex=False)
        self._process = context.Process(
            target=HELPER, args=(url, after, page, all_abstracts, answer), name="search-index-helper", daemon=True
        )
        try:
            self._process.start()
        except BaseException:
            self._answers.close()
            raise
        finally:
            answer.close()  # the helper holds its own end: when it ends, reading here meets the end of the pipe

    def result(self, stop: threading.Event) -> BulkPart | None:
        """The helper's part once it is sent (None if `stop` was set first); HelperFailed if it failed or ended
        without sending it."""
        while not self._answers.poll(0.2):  # the pipe is readable once the part comes or the helper ends
            if stop.is_set():
                return None
        try:
            return _receive(self._answers)
        except (EOFError, OSError):
            self._process.join(5)
            raise HelperFailed(f"it ended without an answer, exit code {self._process.exitcode}") from None
        except HelperFailed:
            raise
        except Exception as exc:  # not what `_send` sends
            raise HelperFailed(f"its answer could not be read ({type(exc).__name__}: {first_line(exc)})") from None

    def close(self) -> None:
        """End the helper (if it still runs) and release its pipe."""
        self._answers.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(5)


# A part crosses the pipe as a few messages of raw bytes (no pickled copy of the large arrays): the counts, then
# the terms (joined by newlines: terms never hold one), titles, ids, and each field's pairs.


def _send(answer: Connection, part: BulkPart) -> None:
    answer.send(("part", len(part.terms), len(part), len(part.pairs)))
    answer.send_bytes("\n".join(part.terms).encode())
    arrays = [np.ascontiguousarray(part.title_ends, np.int64), np.ascontiguousarray(part.key_ends, np.int64)]
    arrays += [np.ascontiguousarray(pairs, np.int32) for field in part.pairs for pairs in field]
    answer.send_bytes(part.titles)
    answer.send_bytes(arrays[0].data)
    answer.send_bytes(part.keys)
    for data in arrays[1:]:
        answer.send_bytes(data.data)


def _receive(answers: Connection) -> BulkPart:
    header = answers.recv()
    if isinstance(header, str):
        raise HelperFailed(header)
    _, term_count, papers, fields = header
    text = answers.recv_bytes().decode()
    terms = text.split("\n") if term_count else []
    titles, title_ends = answers.recv_bytes(), np.frombuffer(answers.recv_bytes(), np.int64)
    keys, key_ends = answers.recv_bytes(), np.frombuffer(answers.recv_bytes(), np.int64)
    pairs = [
        (np.frombuffer(answers.recv_bytes(), np.int32), np.frombuffer(answers.recv_bytes(), np.int32))
        for _ in range(fields)
    ]
    if len(terms) != term_count or len(title_ends) != papers or len(key_ends) != papers:
        raise HelperFailed("its part does not fit together")
    return BulkPart(terms, titles, title_ends, keys, key_ends, pairs)
