"""A build split with a helper process (bot/search/loading.py) is the build one process makes, on SQLite files and
PostgreSQL; a helper that fails, dies or cannot start leaves its papers to the bot's process; small and in-memory
databases are built in one process."""

from __future__ import annotations

import logging
import os
from datetime import date
from multiprocessing.connection import Connection

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.search import SearchService, loading, service
from bot.search.loading import build_part
from storage.db import make_engine, make_sessions
from storage.papers import upsert_papers
from storage.records import PaperRecord
from tests.bot.search.test_build import DOCS, TRICKY

PAGE = 100  # papers per page in these tests: 1,505 papers make 16 pages, 8 read by each process
RECORDS = TRICKY + [
    PaperRecord(
        doc.arxiv_id,
        doc.title,
        list(doc.authors),
        abstract=doc.abstract,
        ai_keywords=list(doc.keywords),
        daily_date=date(2024, 3, 1) if doc.keywords else None,
    )
    for doc in DOCS
]
QUERIES = ["scholkopf", "jeanpierre", "zoe nandu", "lattice φ", "stateoftheart", "difusion", "atention is al you"]
QUERIES += [doc.title[:25] for doc in DOCS[::37]] + [doc.authors[-1] for doc in DOCS[::41] if doc.authors]
QUERIES += [" ".join(doc.keywords[:2]) for doc in DOCS if doc.keywords][:10]


@pytest.fixture
def stored(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    monkeypatch.setattr(service, "PAGE", PAGE)
    with sessions.begin() as session:
        upsert_papers(session=session, records=RECORDS)
    return sessions


def _built(sessions: sessionmaker[Session], parallel_from: int) -> SearchService:
    built = SearchService(sessions, parallel_from=parallel_from)
    assert built.warm() == len(RECORDS)
    return built


def _same_index(one: SearchService, other: SearchService) -> None:
    """The same arrays (terms, their ids, postings, titles, typo tables) and the same answers."""
    assert one._index is not None and other._index is not None
    mine, theirs = one._index.export(), other._index.export()
    assert sorted(mine) == sorted(theirs)
    for name, array in mine.items():
        assert np.array_equal(array, theirs[name]), name
    for query in QUERIES:
        assert [(h.arxiv_id, h.score) for h in one.search(query, 5)] == [
            (h.arxiv_id, h.score) for h in other.search(query, 5)
        ], query


def _helped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "by a helper process" in r.getMessage()]


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_build_split_with_a_helper_process_is_the_build_of_one_process(
    stored: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.search.service")
    alone = _built(stored, parallel_from=10**9)
    assert not _helped(caplog)
    split = _built(stored, parallel_from=1)
    keys = sorted(record.arxiv_id for record in RECORDS)
    assert _helped(caplog) == [
        f"search index: {len(keys) - 8 * PAGE} papers after {keys[8 * PAGE - 1]} read and tokenised by a helper process"
    ]
    assert not _problems(caplog)
    _same_index(split, alone)
    assert split.search("jean-pierre o'brien", 1)[0].arxiv_id == "2401.00001"
    assert split.search(DOCS[-1].title, 1)[0].arxiv_id == DOCS[-1].arxiv_id  # among the helper's papers


def _fails(url: str, after: str, page: int, all_abstracts: bool, answer: Connection) -> None:
    raise RuntimeError("the helper broke")


def _dies(url: str, after: str, page: int, all_abstracts: bool, answer: Connection) -> None:
    os._exit(3)


def _garbles(url: str, after: str, page: int, all_abstracts: bool, answer: Connection) -> None:
    answer.send(("part", 1))


def _wrong_database(url: str, after: str, page: int, all_abstracts: bool, answer: Connection) -> None:
    build_part("sqlite:////nonexistent-folder/paperbot.db", after, page, all_abstracts, answer)


@pytest.mark.parametrize(
    ("helper", "problem"),
    [
        (_fails, "it ended without an answer, exit code 1"),
        (_dies, "it ended without an answer, exit code 3"),
        (_garbles, "its answer could not be read (ValueError: not enough values to unpack (expected 4, got 2))"),
        (_wrong_database, "OperationalError: (sqlite3.OperationalError) unable to open database file"),
    ],
)
def test_a_helper_that_fails_leaves_its_papers_to_this_process(
    stored: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    helper: object,
    problem: str,
) -> None:
    alone = _built(stored, parallel_from=10**9)
    monkeypatch.setattr(loading, "HELPER", helper)
    caplog.set_level(logging.INFO, "bot.search.service")
    split = _built(stored, parallel_from=1)
    assert not _helped(caplog)
    assert _problems(caplog) == [
        f"search index: the build's helper process failed ({problem}); reading its papers here"
    ]
    _same_index(split, alone)


def test_no_helper_process_leaves_the_build_to_this_process(
    stored: sessionmaker[Session], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start(*args: object) -> None:
        raise OSError("no processes left")

    alone = _built(stored, parallel_from=10**9)
    monkeypatch.setattr(loading, "Helper", cannot_start)
    caplog.set_level(logging.INFO, "bot.search.service")
    split = _built(stored, parallel_from=1)
    assert _problems(caplog) == [
        "search index: no helper process for the build (no processes left); building in this one"
    ]
    _same_index(split, alone)


def test_small_and_in_memory_databases_are_built_in_one_process(
    stored: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_helper(*args: object) -> None:
        raise AssertionError("a helper process was started")

    monkeypatch.setattr(loading, "Helper", no_helper)
    assert SearchService(stored).warm() == len(RECORDS)  # fewer papers than service.PARALLEL_FROM
    engine = make_engine("sqlite://")  # no other process can open it
    assert SearchService(make_sessions(engine), parallel_from=1)._split() is None
    engine.dispose()
