"""The search index saved and loaded again: in another process, through the service on SQLite and PostgreSQL,
caught up after a restart, refused when damaged, shared by processes writing at once, searched while loading."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bench.search_corpus import papers
from bot.config import Settings
from bot.deps import Deps
from bot.search import SearchDoc, SearchIndex, SearchService, snapshot
from bot.search.hashing import delete_hashes, low32, string_hash, string_hashes
from bot.search.snapshot import cache_folder
from bot.search.text import deletes
from storage.db import make_engine, make_sessions
from storage.models import Paper
from storage.papers import upsert_papers
from storage.records import PaperRecord

ROOT = Path(__file__).resolve().parents[3]
QUERIES = ["atention is all you", "replica symetry breaking", "mamba2", "vaswani", "state space models", "zzz"]
RECORDS = [
    PaperRecord("2111.12997", "Replica symmetry breaking in dense neural networks", ["Carlo Lucibello"]),
    PaperRecord("1706.03762", "Attention Is All You Need", ["Ashish Vaswani", "Noam Shazeer"]),
    PaperRecord("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", ["Albert Gu"]),
]


def _docs(count: int) -> list[SearchDoc]:
    return [SearchDoc(p.arxiv_id, p.title, p.authors, p.keywords, p.abstract) for p in papers(count, seed=3)]


def _results(index: SearchIndex | SearchService, queries: list[str]) -> list[list[list[object]]]:
    return [[[hit.arxiv_id, hit.score] for hit in index.search(query, 5)] for query in queries]


@given(st.lists(st.text(min_size=0, max_size=12), max_size=8))
def test_the_vectorised_hashes_are_the_one_string_hashes(texts: list[str]) -> None:
    assert string_hashes(texts).tolist() == [string_hash(text) for text in texts]
    hashes, owners = delete_hashes(texts, 3)
    expected = sorted(
        (low32(string_hash(variant)), n) for n, text in enumerate(texts) if len(text) >= 3 for variant in deletes(text)
    )
    assert sorted(zip(hashes.tolist(), owners.tolist(), strict=True)) == expected


def test_a_snapshot_loaded_in_another_process_answers_as_a_fresh_build(tmp_path: Path) -> None:
    docs = _docs(3000)
    built = SearchIndex.build(docs)
    built.add(SearchDoc("2405.21060", "Transformers are SSMs: Mamba-2", ("Tri Dao",)))  # saved after a compaction
    queries = QUERIES + [doc.title[:25] for doc in docs[::100]] + [doc.title[3:30] for doc in docs[50::100]]
    path = tmp_path / "index.snapshot"
    snapshot.write(path, "test", {}, built.export())
    assert path.stat().st_mode & 0o777 == 0o600
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from bot.search import SearchIndex, snapshot
        meta, arrays = snapshot.read(Path({str(path)!r}), "test")
        index = SearchIndex.restore(arrays)
        queries = json.loads(sys.stdin.read())
        print(json.dumps([[[hit.arxiv_id, hit.score] for hit in index.search(q, 5)] for q in queries]))
        """
    )
    env = os.environ | {"PYTHONHASHSEED": "12345"}  # another string hash than this process's
    out = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(queries), capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(out.stdout) == _results(built, queries)
    assert json.loads(out.stdout)[2][0][0] == "2405.21060"


def _store(sessions: sessionmaker[Session], *records: PaperRecord) -> None:
    with sessions.begin() as session:
        upsert_papers(session=session, records=records)


@pytest.fixture
def other_process(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessions(engine)
    engine.dispose()


def _loaded_from_snapshot(caplog: pytest.LogCaptureFixture) -> bool:
    return any("from its snapshot" in record.getMessage() for record in caplog.records)


def test_a_restart_loads_the_snapshot_and_finds_papers_stored_since(
    sessions: sessionmaker[Session],
    other_process: sessionmaker[Session],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "bot.search.service")
    _store(sessions, *RECORDS)
    first = SearchService(sessions, cache=tmp_path)
    assert first.warm() == 3
    assert not _loaded_from_snapshot(caplog)
    assert list(tmp_path.glob("paperbot-search-*.snapshot"))
    _store(other_process, PaperRecord("2405.21060", "Transformers are SSMs: Mamba-2", ["Tri Dao"]))

    caplog.clear()
    second = SearchService(other_process, cache=tmp_path)  # another process, started after the paper was stored
    assert second.warm() == 4
    assert _loaded_from_snapshot(caplog)
    assert second.search("mamba2", 1)[0].arxiv_id == "2405.21060"
    first.refresh()
    assert _results(second, QUERIES) == _results(first, QUERIES)


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "old format", "not a snapshot", "empty"])
def test_a_damaged_snapshot_is_rebuilt_with_one_log_line(
    sessions: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    _store(sessions, *RECORDS)
    SearchService(sessions, cache=tmp_path).warm()
    (path,) = tmp_path.glob("paperbot-search-*.snapshot")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "flipped byte":
        data[-100] ^= 0xFF
    elif damage == "old format":
        data = data.replace(b'"format": 1', b'"format": 0', 1)
        header_size = int.from_bytes(data[len(snapshot.MAGIC) : len(snapshot.MAGIC) + 4], "little")
        start = len(snapshot.MAGIC) + 8
        import zlib

        data[start - 4 : start] = zlib.crc32(bytes(data[start : start + header_size])).to_bytes(4, "little")
    elif damage == "not a snapshot":
        data = bytearray(b"<html>not found</html>")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))

    caplog.clear()
    caplog.set_level(logging.INFO, "bot.search.service")
    service = SearchService(sessions, cache=tmp_path)
    assert service.warm() == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "not used" in warnings[0], warnings
    assert not _loaded_from_snapshot(caplog)
    assert service.search("replica symetry", 1)[0].arxiv_id == "2111.12997"
    snapshot.read(path, service._snapshot_place()[1])  # type: ignore[index]  # rewritten whole


def test_a_snapshot_of_other_papers_is_not_used(
    sessions: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database was emptied and refilled: the snapshot's papers are not its own (a sample of stamps tells;
    a recreated database file or papers table is told by the database's identity)."""
    for record in RECORDS:  # one by one: stamped apart, so the first ones are below the watermark
        _store(sessions, record)
    SearchService(sessions, cache=tmp_path, overlap_seconds=0).warm()
    with sessions.begin() as session:
        session.execute(delete(Paper))
    _store(sessions, PaperRecord("2405.21060", "Transformers are SSMs: Mamba-2", ["Tri Dao"]), *RECORDS[1:])
    caplog.set_level(logging.INFO, "bot.search.service")
    service = SearchService(sessions, cache=tmp_path)
    assert service.warm() == 3
    assert not _loaded_from_snapshot(caplog)
    assert [hit.arxiv_id for hit in service.search("replica symmetry breaking", 5)] == []


def test_search_answers_from_the_database_while_the_snapshot_loads(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(sessions, *RECORDS)
    SearchService(sessions, cache=tmp_path).warm()
    reading, release = threading.Event(), threading.Event()
    real_read = snapshot.read

    def slow_read(path: Path, identity: str) -> object:
        reading.set()
        assert release.wait(30)
        return real_read(path, identity)

    monkeypatch.setattr(snapshot, "read", slow_read)
    service = SearchService(sessions, cache=tmp_path, poll_seconds=0.05)
    service.start()
    try:
        assert reading.wait(30)
        assert not service.ready
        assert service.search("replica symetry breaking", 1)[0].arxiv_id == "2111.12997"
        release.set()
        for _ in range(600):
            if service.ready:
                break
            threading.Event().wait(0.05)
        assert service.ready
        assert service.search("atention is all you", 1)[0].arxiv_id == "1706.03762"
    finally:
        release.set()
        service.stop()


WRITER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
import numpy as np
from bot.search import snapshot
value = int(sys.argv[1])
for _ in range(30):
    snapshot.write(Path({path!r}), "shared", {{"writer": value}}, {{"data": np.full(200_000, value, np.int64)}})
"""


def test_processes_writing_one_shared_snapshot_leave_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.snapshot"
    abandoned = tmp_path / ".shared.snapshot.999.dead.tmp"  # a writer killed mid-way, long ago
    abandoned.write_bytes(b"half a snapshot")
    os.utime(abandoned, (0, 0))
    script = WRITER.format(root=str(ROOT), path=str(path))
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in (1, 2)]
    seen = set()
    while any(writer.poll() is None for writer in writers):
        if not path.exists():
            continue
        meta, arrays = snapshot.read(path, "shared")  # once there, always whole
        assert np.all(arrays["data"] == meta["writer"])  # one writer's whole file, never a mix
        seen.add(meta["writer"])
    assert [writer.returncode for writer in writers] == [0, 0]
    meta, arrays = snapshot.read(path, "shared")
    assert np.all(arrays["data"] == meta["writer"]) and seen <= {1, 2}
    assert [p.name for p in tmp_path.iterdir()] == ["shared.snapshot"]  # no temporary file left behind


def test_the_cache_folder_setting() -> None:
    assert cache_folder("", "/srv/paperbot/paperbot.db", "sqlite") == Path("/srv/paperbot")
    assert cache_folder("", ":memory:", "sqlite") is None
    assert cache_folder("", "paperbot", "postgresql") is None
    assert cache_folder(" /var/cache/paperbot ", "paperbot", "postgresql") == Path("/var/cache/paperbot")
    assert cache_folder("OFF", "/srv/paperbot/paperbot.db", "sqlite") is None


def test_a_bot_saves_its_index_where_the_setting_says_and_the_next_one_loads_it(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _store(sessions, *RECORDS)
    caplog.set_level(logging.INFO, "bot.search.service")
    settings = Settings(_env_file=None, database_url=db_url, search_cache=str(tmp_path / "cache"))
    for run in range(2):
        engine = make_engine(db_url)
        deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
        try:
            service = deps.search
            for _ in range(600):
                if service.ready:
                    break
                threading.Event().wait(0.05)
            assert service.search("atention is all you", 1)[0].arxiv_id == "1706.03762"
        finally:
            deps.close()
            engine.dispose()
        assert list((tmp_path / "cache").glob("paperbot-search-*.snapshot"))
        assert _loaded_from_snapshot(caplog) == (run == 1)
