"""The database-backed search service on SQLite and PostgreSQL: load, fallback while loading, polling refresh."""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.search import SearchService
from bot.search import service as service_module
from storage.db import make_engine, make_sessions
from storage.models import Paper, utcnow
from storage.papers import upsert_papers
from storage.records import PaperRecord
from storage.search import changed_page as stored_changes

PAPERS = [
    PaperRecord("2111.12997", "Replica symmetry breaking in dense neural networks", ["Carlo Lucibello"]),
    PaperRecord("2410.13732", "Reducing the Transformer Architecture to a Minimum", ["Bernhard Bermeitinger"]),
    PaperRecord(
        "2312.00752",
        "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
        ["Albert Gu", "Tri Dao"],
        abstract="Foundation models built on hardware-aware parallel scans.",
        ai_keywords=["state space models"],
        daily_date=date(2023, 12, 4),
    ),
    PaperRecord(
        "1501.00001",
        "An Old Snapshot Paper",
        ["Ada Lovelace"],
        abstract="Nothing but zanzibarite here.",
        source="snapshot",
    ),
]


def _store(sessions: sessionmaker[Session], *records: PaperRecord) -> None:
    with sessions.begin() as session:
        upsert_papers(session=session, records=records)


def _ids(service: SearchService, query: str, limit: int = 3) -> list[str]:
    return [hit.arxiv_id for hit in service.search(query, limit)]


@pytest.fixture
def other_process(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on an engine of their own: another process or replica writing to the same database."""
    engine = make_engine(db_url)
    yield make_sessions(engine)
    engine.dispose()


def test_stored_papers_are_found_after_the_load(sessions: sessionmaker[Session]) -> None:
    _store(sessions, *PAPERS)
    service = SearchService(sessions)
    assert service.warm() == len(PAPERS)
    assert service.ready
    assert _ids(service, "replica symetry paper", 1) == ["2111.12997"]
    assert _ids(service, "bermeitinger", 1) == ["2410.13732"]
    assert _ids(service, "state space models", 1) == ["2312.00752"]  # HF keywords
    assert _ids(service, "hardware-aware scans", 1) == ["2312.00752"]  # a Daily Papers abstract is indexed
    assert _ids(service, "zanzibarite") == []  # a snapshot-only paper's abstract is not (memory: docs/search.md)


def test_a_paper_stored_by_another_process_is_found_after_a_poll(
    sessions: sessionmaker[Session], other_process: sessionmaker[Session]
) -> None:
    _store(sessions, *PAPERS[:2])
    service = SearchService(sessions)
    service.warm()
    _store(other_process, PaperRecord("2405.21060", "Transformers are SSMs: Mamba-2", ["Tri Dao"]))
    assert "2405.21060" not in _ids(service, "mamba2")
    assert service.refresh() == 1
    assert _ids(service, "mamba2", 1) == ["2405.21060"]
    assert service.refresh() == 0  # read again inside the overlap, unchanged: not re-indexed

    _store(other_process, PaperRecord("2405.21060", "Transformers are SSMs: Mamba-2 and Duality", source="arxiv"))
    assert service.refresh() == 1
    assert service.search("mamba2", 1)[0].title == "Transformers are SSMs: Mamba-2 and Duality"


FOUND_WITHIN = 10.0  # seconds: the guarantee (a paper another process stores is searchable by then), not a speed


def _store_in_own_process(db_url: str, record: PaperRecord) -> None:
    """Another process (a replica, `paperbot fetch`) storing a paper on the same database with its own engine."""
    engine = make_engine(db_url)
    try:
        with make_sessions(engine).begin() as session:
            upsert_papers(session=session, records=[record])
    finally:
        engine.dispose()


def test_a_paper_stored_by_another_process_is_found_by_the_running_services_own_poll_within_10_s(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    _store(sessions, *PAPERS[:2])
    service = SearchService(sessions)  # polling as the bot's does: nothing here calls refresh()
    service.start()
    try:
        for _ in range(600):  # the index loaded: from now on searches answer from it, not from the database
            if service.ready:
                break
            time.sleep(0.05)
        assert service.ready  # and stays so: what finds the paper below is the index the poll updated
        assert "2405.21060" not in _ids(service, "mamba2")

        writer = multiprocessing.get_context("spawn").Process(
            target=_store_in_own_process,
            args=(db_url, PaperRecord("2405.21060", "Transformers are SSMs: Mamba-2", ["Tri Dao"])),
        )
        writer.start()
        writer.join(60)
        assert writer.exitcode == 0
        stored = time.monotonic()
        found = _ids(service, "mamba2", 1)
        while found != ["2405.21060"] and time.monotonic() - stored < FOUND_WITHIN:
            time.sleep(0.1)
            found = _ids(service, "mamba2", 1)
        assert found == ["2405.21060"], f"not found {FOUND_WITHIN:.0f} s after another process stored it"
    finally:
        service.stop()
        gc.unfreeze()  # the load froze the test session's objects (bot.search.service._out_of_gc)
    assert service._thread is not None and not service._thread.is_alive()


def test_a_change_stamped_a_little_earlier_than_the_newest_is_still_read(
    sessions: sessionmaker[Session], other_process: sessionmaker[Session]
) -> None:
    """Replicas' clocks differ and transactions commit late: the watermark trails the newest change."""
    _store(sessions, PAPERS[0])
    service = SearchService(sessions, overlap_seconds=30)
    service.warm()
    _store(other_process, PAPERS[1])
    service.refresh()
    _store(other_process, PAPERS[2])
    with other_process.begin() as session:
        session.execute(
            update(Paper).where(Paper.arxiv_id == "2312.00752").values(updated_at=utcnow() - timedelta(seconds=20))
        )
    assert service.refresh() == 1
    assert _ids(service, "mamba selective state", 1) == ["2312.00752"]


def test_papers_loaded_into_an_empty_database_later_are_found(sessions: sessionmaker[Session]) -> None:
    service = SearchService(sessions)
    assert service.warm() == 0
    assert service.search("replica", 5) == []
    _store(sessions, *PAPERS)
    assert service.refresh() == len(PAPERS)
    assert _ids(service, "replica symmetry", 1) == ["2111.12997"]


def test_while_the_index_loads_search_reads_the_database(sessions: sessionmaker[Session]) -> None:
    _store(sessions, *PAPERS)
    service = SearchService(sessions)  # not loaded: the fallback answers
    assert not service.ready
    assert _ids(service, "replica symetry breaking", 1) == ["2111.12997"]
    assert _ids(service, "Reducing the Transformer Architecture", 1) == ["2410.13732"]
    assert _ids(service, "bermeitinger transformer", 1) == ["2410.13732"]
    filtered = service.search("replica symmetry breaking", 2, accept=lambda key: key != "2111.12997")
    assert filtered and "2111.12997" not in [hit.arxiv_id for hit in filtered]
    assert service.search("", 5) == [] and service.search("replica", 0) == []


def test_start_loads_in_the_background_and_stop_ends_the_thread(sessions: sessionmaker[Session]) -> None:
    _store(sessions, *PAPERS)
    service = SearchService(sessions, poll_seconds=0.05)
    loaded = threading.Event()
    real_warm = service.warm

    def warm() -> int:
        count = real_warm()
        loaded.set()
        return count

    service.warm = warm  # type: ignore[method-assign]
    service.start()
    try:
        assert loaded.wait(60), "the background load did not finish"
        assert service.ready
        assert _ids(service, "mamba selective", 1) == ["2312.00752"]
    finally:
        service.stop()
    assert service._thread is not None and not service._thread.is_alive()


def test_settled_comes_after_the_load_and_the_first_poll(sessions: sessionmaker[Session]) -> None:
    _store(sessions, *PAPERS)
    service = SearchService(sessions, poll_seconds=0.05)
    polling, release = threading.Event(), threading.Event()
    real_refresh = service.refresh

    def refresh() -> int:
        polling.set()
        release.wait(60)
        return real_refresh()

    service.refresh = refresh  # type: ignore[method-assign]
    assert not service.settled
    service.start()
    try:
        assert polling.wait(60), "the first poll did not begin"
        assert service.ready and not service.settled  # loaded, but its first poll is still running
        release.set()
        for _ in range(600):
            if service.settled:
                break
            threading.Event().wait(0.05)
        assert service.settled
    finally:
        release.set()
        service.stop()


def test_the_loaded_index_is_out_of_the_garbage_collectors_sight(sessions: sessionmaker[Session]) -> None:
    # A full collection walked every item of the vocabulary's lists (160 ms at a million papers) during searches.
    _store(sessions, *PAPERS)
    service = SearchService(sessions)
    try:
        service.warm()
        index = service._index
        assert index is not None
        watched = {id(o) for o in gc.get_objects()}
        assert id(index) not in watched and id(index._vocab) not in watched
        assert _ids(service, "mamba selective", 1) == ["2312.00752"]  # and it answers as before
    finally:
        gc.unfreeze()  # the rest of the test session's objects go back to the collector
        service.stop()


def test_papers_stamped_long_ago_at_the_watermark_are_not_read_again_at_every_poll(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bulk store's last batch shares one stamp; once it is older than the overlap, polls start after it.
    _store(sessions, *PAPERS)
    with sessions.begin() as session:
        session.execute(update(Paper).values(updated_at=utcnow() - timedelta(hours=1)))
    service = SearchService(sessions, overlap_seconds=10)
    service.warm()
    read: list[int] = []
    real_page = stored_changes

    def counted(**kwargs: Any) -> Any:
        rows = real_page(**kwargs)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(service_module, "changed_page", counted)
    service.refresh()
    service.refresh()
    assert read[-1] == 0, read  # the watermark's own papers were not read again
    _store(sessions, PaperRecord("2405.21060", "Transformers are SSMs: Mamba-2", ["Tri Dao"]))
    assert service.refresh() == 1  # a newer paper still is
    assert _ids(service, "mamba2", 1) == ["2405.21060"]
