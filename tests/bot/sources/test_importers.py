"""Bulk import: snapshot JSON lines and HF daily_papers arrays, told apart by content, broken records skipped."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import signal
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sources import importers
from bot.sources.importers import (
    HF_ARRAY,
    SNAPSHOT,
    ImportFailure,
    ImportReport,
    detect_format,
    import_paths,
    parse_snapshot_record,
)
from bot.sources.snapshot import SnapshotLine as _SnapshotLine
from bot.sources.snapshot import typed_record as _typed_record
from storage.bulk import bulk_insert as _bulk_insert
from storage.models import UpvoteSnapshot
from storage.papers import PAPERS, count_papers, daily_papers, get_paper, upsert_papers
from tests.fakes.hf import daily_item

# A real record of the arXiv metadata snapshot (its first line), hard-wrapped title and abstract included.
PROMPT_DIPHOTON: dict[str, Any] = {
    "id": "0704.0001",
    "submitter": "Pavel Nadolsky",
    "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
    "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
    "comments": "37 pages, 15 figures; published version",
    "journal-ref": "Phys.Rev.D76:013009,2007",
    "doi": "10.1103/PhysRevD.76.013009",
    "report-no": "ANL-HEP-PR-07-12",
    "categories": "hep-ph",
    "license": None,
    "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\npresented for the"
    " production of massive photon pairs at hadron colliders. $\\gamma\\gamma$\n",
    "versions": [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
    ],
    "update_date": "2008-11-13",
    "authors_parsed": [
        ["Balázs", "C.", ""],
        ["Berger", "E. L.", ""],
        ["Nadolsky", "P. M.", ""],
        ["Yuan", "C. -P.", ""],
    ],
}


def snapshot_line(arxiv_id: str, title: str = "A title", **extra: Any) -> str:
    return json.dumps({"id": arxiv_id, "title": title, "categories": "cs.CL cs.LG", "abstract": "Text.", **extra})


def mixed_lines() -> list[str]:
    return [
        json.dumps(PROMPT_DIPHOTON),  # 1
        snapshot_line("hep-th/9901001", "Old style id", authors="A. One and B. Two"),  # 2
        '{"id": "2410.13732", "title": "cut off',  # 3: bad JSON
        "",  # 4: blank lines are not records
        json.dumps({"title": "No id"}),  # 5
        snapshot_line("2410.13732", title=""),  # 6: no title
        snapshot_line("not-an-id"),  # 7
        json.dumps(PROMPT_DIPHOTON),  # 8: a duplicate
        snapshot_line("2410.13732v2", "Reducing the Transformer Architecture to a Minimum"),  # 9
    ]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_import(
    sessions: sessionmaker[Session], *paths: Path, batch_size: int = 2, parallel: bool | None = None
) -> tuple[ImportReport, str]:
    console = Console(record=True, width=200)
    report = import_paths(
        paths, sessions=sessions, batch_size=batch_size, console=console, progress=False, parallel=parallel
    )
    return report, console.export_text()


def test_a_mixed_file_reports_each_broken_line_and_imports_the_rest(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path / "snapshot.jsonl", mixed_lines())
    report, printed = run_import(sessions, path)

    assert [(r.where, r.reason.split(" (")[0]) for r in report.rejected] == [
        ("line 3", "bad JSON"),
        ("line 5", "missing id"),
        ("line 6", "2410.13732: missing title"),
        ("line 7", "id 'not-an-id' is not an arXiv id"),
    ]
    assert f"skipped {path}: line 3: bad JSON" in printed
    assert (report.read, report.stats.inserted, report.stats.unchanged, report.rejected_count) == (8, 3, 1, 4)
    with sessions.begin() as s:
        assert count_papers(session=s) == 3
        assert get_paper(session=s, arxiv_id="2410.13732").version == "v2"  # type: ignore[union-attr]


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "parse-process"])
def test_valid_json_of_the_wrong_shape_is_skipped_and_nul_characters_are_dropped(
    sessions: sessionmaker[Session], tmp_path: Path, parallel: bool
) -> None:
    # NUL: PostgreSQL refuses it in text and jsonb, so before, one such line failed its whole batch there.
    nul = snapshot_line("2410.00002", "Nul \u0000 byte", authors_parsed=[["Nul\u0000", "A.", ""]])
    path = write(
        tmp_path / "odd.jsonl",
        [
            snapshot_line("2410.00001", "Good before"),
            snapshot_line("2410.00003", "Versions a number", versions=5),  # valid JSON, not a list: stopped the import
            snapshot_line("2410.00004", "Versions a bool", versions=True),
            nul,
            snapshot_line("2410.00005", "Good after"),
        ],
    )
    report, printed = run_import(sessions, path, batch_size=2, parallel=parallel)

    assert report.rejected_count == 0, printed
    assert (report.read, report.stats.inserted) == (5, 5)
    with sessions.begin() as s:
        odd = get_paper(session=s, arxiv_id="2410.00003")
        assert odd is not None and odd.title == "Versions a number" and odd.published is None
        cleaned = get_paper(session=s, arxiv_id="2410.00002")
        assert cleaned is not None and (cleaned.title, cleaned.authors) == ("Nul byte", ["A. Nul"])
        assert get_paper(session=s, arxiv_id="2410.00005") is not None


def test_a_hf_array_item_with_nul_characters_is_stored_without_them(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    item = daily_item("2410.00006", "Bad \x00 title", date(2025, 11, 24), upvotes=3)
    item["paper"]["authors"] = [{"name": "Ada\x00 Lovelace"}]
    path = tmp_path / "hf.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    report, printed = run_import(sessions, path)
    assert (report.stats.inserted, report.rejected_count) == (1, 0), printed
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2410.00006")
        assert paper is not None and (paper.title, paper.authors) == ("Bad title", ["Ada Lovelace"])


def test_a_file_parsed_by_a_second_process_imports_the_same(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    # Big files are parsed by another process while this one writes; small ones in turn. Same result either way.
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(mixed_lines()).encode()))
    report, printed = run_import(sessions, path, parallel=True)

    assert [r.where for r in report.rejected] == ["line 3", "line 5", "line 6", "line 7"]
    assert f"skipped {path}: line 7: id 'not-an-id' is not an arXiv id" in printed
    assert (report.read, report.stats.inserted, report.stats.unchanged, report.rejected_count) == (8, 3, 1, 4)
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="0704.0001")
        assert paper is not None and paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
        assert (paper.published, paper.version) == (date(2007, 4, 2), "v2")
    again, _ = run_import(sessions, path)  # parsed in turn with writing
    assert (again.stats.inserted, again.stats.updated, again.stats.unchanged) == (0, 0, 4)


def test_importing_the_same_file_twice_changes_nothing(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = write(tmp_path / "snapshot.jsonl", mixed_lines())
    run_import(sessions, path)
    with sessions.begin() as s:
        stamp = get_paper(session=s, arxiv_id="0704.0001").updated_at  # type: ignore[union-attr]

    again, _ = run_import(sessions, path, batch_size=1000)
    assert (again.stats.inserted, again.stats.updated, again.stats.unchanged) == (0, 0, 4)
    assert "inserted 0, updated 0, unchanged 4, rejected 4" in again.summary()
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="0704.0001").updated_at == stamp  # type: ignore[union-attr]


def test_snapshot_fields_are_mapped(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_import(sessions, write(tmp_path / "one.jsonl", [json.dumps(PROMPT_DIPHOTON)]))
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="0704.0001")
        assert paper is not None
        assert paper.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
        assert paper.abstract is not None and paper.abstract.endswith("at hadron colliders. $\\gamma\\gamma$")
        assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
        assert (paper.categories, paper.primary_category) == (["hep-ph"], "hep-ph")
        assert (paper.published, paper.updated, paper.version) == (date(2007, 4, 2), date(2008, 11, 13), "v2")
        assert (paper.journal_ref, paper.doi) == ("Phys.Rev.D76:013009,2007", "10.1103/PhysRevD.76.013009")
        assert (paper.comments, paper.source, paper.daily_date) == (
            "37 pages, 15 figures; published version",
            "snapshot",
            None,
        )


def test_authors_string_is_split_when_authors_parsed_is_missing() -> None:
    record = parse_snapshot_record({"id": "hep-th/9901001", "title": "T", "authors": "A. One, B. Two and\n C. Three"})
    assert record.authors == ["A. One", "B. Two", "C. Three"]


def test_a_gzipped_file_is_recognised_by_content_not_name(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    gz = tmp_path / "papers.json"  # a misleading name
    gz.write_bytes(gzip.compress("\n".join(mixed_lines()).encode()))
    assert detect_format(gz) == SNAPSHOT
    report, _ = run_import(sessions, gz)
    assert (report.stats.inserted, report.rejected_count) == (3, 4)


def test_a_hf_daily_papers_array_is_imported(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    day = date(2025, 11, 24)
    items = [
        daily_item("2511.00001", "Fewer upvotes", day, upvotes=3),
        {"paper": {"title": "No id"}},
        daily_item("2511.00002", "More upvotes", day, upvotes=30, githubStars=None),
    ]
    path = tmp_path / "daily.txt"
    path.write_text("  \n" + json.dumps(items, indent=1), encoding="utf-8")
    assert detect_format(path) == HF_ARRAY

    report, printed = run_import(sessions, path)
    assert [(r.where, r.reason) for r in report.rejected] == [
        ("item 2", "Hugging Face paper item has no paper.id (the arXiv id)")
    ]
    assert "item 2" in printed
    with sessions.begin() as s:
        assert [p.title for p in daily_papers(session=s, day=day)] == ["More upvotes", "Fewer upvotes"]
    again, _ = run_import(sessions, path)
    assert (again.stats.inserted, again.stats.updated, again.stats.unchanged) == (0, 0, 2)


def test_a_truncated_array_keeps_the_items_before_the_break(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    day = date(2025, 11, 24)
    text = json.dumps([daily_item("2511.00001", "Whole", day), daily_item("2511.00002", "Cut", day)])
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index("Cut")], encoding="utf-8")
    report, _ = run_import(sessions, path)
    assert report.stats.inserted == 1
    assert report.rejected[0].where == "after item 1"
    assert "the rest of this file is skipped" in report.rejected[0].reason


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"title,id\n", "nor arXiv snapshot JSON lines"), (b"\x1f\x8bnot gzip", "cannot be read")],
)
def test_a_path_that_cannot_be_imported_is_named(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "input"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportFailure, match=message) as failure:
        detect_format(path)
    assert str(path) in str(failure.value)


def test_an_empty_file_imports_nothing(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n  \n")
    assert detect_format(path) is None
    report, _ = run_import(sessions, path)
    assert (report.read, report.accepted) == (0, 0)


def test_a_row_added_by_a_concurrent_writer_does_not_fail_the_batch(sessions: sessionmaker[Session]) -> None:
    # The batch checked "2511.00001" was new, then another writer inserted it before our bulk insert.
    with sessions.begin() as s:
        upsert_papers(session=s, records=[parse_snapshot_record(json.loads(snapshot_line("2511.00001", "Theirs")))])
    rows = []
    for arxiv_id, title in [("2511.00001", "Ours"), ("2511.00002", "New")]:
        row = {c.name: None for c in PAPERS.c} | {"arxiv_id": arxiv_id, "title": title, "source": "snapshot"}
        rows.append(
            row
            | {
                "authors": [],
                "categories": [],
                "ai_keywords": [],
                "created_at": date(2025, 1, 1),
                "updated_at": date(2025, 1, 1),
            }
        )
    with sessions.begin() as s:
        _bulk_insert(s, PAPERS, rows)
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="2511.00001").title == "Theirs"  # type: ignore[union-attr]
        assert get_paper(session=s, arxiv_id="2511.00002").title == "New"  # type: ignore[union-attr]


_text = st.text(alphabet=st.sampled_from("ab É$\\\n\t\r "), max_size=12)
_snapshot_objects = st.fixed_dictionaries(
    {"id": st.sampled_from(["0704.0001", "2410.13732v3", "hep-th/9901001", " math.CA/0611800 ", "x", ""])},
    optional={
        "title": _text,
        "abstract": _text,
        "comments": st.none() | _text,
        "journal-ref": st.none() | _text,
        "doi": st.none() | _text,
        "categories": st.none() | _text,
        "update_date": st.sampled_from([None, "2008-11-13", "2008-13-45", ""]),
        "authors": st.none() | _text,
        "authors_parsed": st.none() | st.lists(st.lists(_text, max_size=4), max_size=3),
        "versions": st.none()
        | st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "version": st.none() | st.sampled_from(["v1", " v2 ", ""]),
                    "created": st.none()
                    | st.sampled_from(
                        ["Mon, 2 Apr 2007 19:18:42 GMT", "2 Apr 2007 19:18:42 +0100", "Mon, 31 Feb 2007 1:0:0 GMT", "x"]
                    ),
                },
            ),
            max_size=3,
        ),
        "license": st.none() | _text,
    },
)


@given(_snapshot_objects)
def test_snapshot_lines_read_the_same_by_the_fast_and_the_generic_parser(obj: dict[str, Any]) -> None:
    # Typical lines take a typed fast path; this holds it to the generic parser, which every other line takes.
    line = json.dumps(obj).encode()
    try:
        fast = _typed_record(msgspec.json.decode(line, type=_SnapshotLine))
    except (msgspec.ValidationError, ValueError):
        return  # declined: the generic parser reads this line (and says what is wrong with it)
    assert fast == parse_snapshot_record(json.loads(line))


# A gzip member whose first deflate block has the reserved type: zlib rejects it ("invalid block type").
BROKEN_MEMBER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07 broken"


def many_lines(count: int, start: int = 0) -> bytes:
    """`count` snapshot lines, over 64 KB once there are a few hundred (detection reads the first 64 KB)."""
    lines = (
        snapshot_line(f"2501.{n:05d}", f"Paper number {n}", authors=f"A. Author{n}")
        for n in range(start, start + count)
    )
    return ("\n".join(lines) + "\n").encode()


def complete_lines_in(damaged: bytes) -> int:
    """How many whole lines a reader gets out of a damaged gzip file before the damage."""
    decompressor = zlib.decompressobj(wbits=31)
    try:
        text = decompressor.decompress(damaged)
    except zlib.error:
        return 0
    return text.count(b"\n")


def damaged_gzip(kind: str) -> tuple[bytes, int]:
    """A gzip file damaged past its first 64 KB of text, and how many records come before the damage."""
    text = many_lines(3000)
    packed = gzip.compress(text)
    if kind == "truncated":
        cut = packed[: len(packed) * 2 // 3]
        return cut, complete_lines_in(cut)
    if kind == "bad checksum":
        return packed[:-8] + bytes(a ^ 0xFF for a in packed[-8:-4]) + packed[-4:], 3000
    return packed + BROKEN_MEMBER, 3000  # "corrupt data": a second member that zlib refuses


@pytest.mark.parametrize("parallel", [False, True], ids=["in turn", "second process"])
@pytest.mark.parametrize("kind", ["truncated", "bad checksum", "corrupt data"])
def test_damage_past_the_start_of_a_gz_stops_with_one_line_and_keeps_what_came_before(
    sessions: sessionmaker[Session], tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str, parallel: bool
) -> None:
    blob, before = damaged_gzip(kind)
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(blob)
    assert detect_format(path) == SNAPSHOT  # the first 64 KB are fine

    with pytest.raises(ImportFailure) as failure:
        run_import(sessions, path, batch_size=500, parallel=parallel)
    message = str(failure.value)
    assert message.startswith(f"{path}: cannot be read (") and "\n" not in message
    assert f"read {before:,}, inserted {before:,}," in message  # where it stopped
    assert "Traceback" not in capfd.readouterr().err  # nor from the parsing process
    with sessions.begin() as s:
        assert before > 500 and count_papers(session=s) == before


def test_a_gz_corrupt_from_its_start_is_named_before_anything_is_imported(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(BROKEN_MEMBER)
    with pytest.raises(ImportFailure, match=r"cannot be read \(Error -3 while decompressing data: invalid block"):
        detect_format(path)


def big_snapshot(tmp_path: Path) -> Path:
    """A file whose parsed records overflow the pipe to the parsing process (1 MB), so that process is still
    busy when the writer stops early."""
    path = tmp_path / "big.jsonl"
    path.write_bytes(many_lines(20000))
    return path


class DatabaseDown(Exception):
    pass


def test_an_error_while_writing_stops_the_parsing_process_quietly(
    sessions: sessionmaker[Session], tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def failing_upsert(*, session: Session, records: list[Any], seen_on: date | None = None) -> Any:
        calls.append(len(records))
        if len(calls) == 2:
            raise DatabaseDown("the database went away")
        return upsert_papers(session=session, records=records, seen_on=seen_on)

    monkeypatch.setattr(importers, "upsert_papers", failing_upsert)
    with pytest.raises(DatabaseDown):
        run_import(sessions, big_snapshot(tmp_path), batch_size=1000, parallel=True)
    assert multiprocessing.active_children() == []
    assert "Traceback" not in capfd.readouterr().err
    with sessions.begin() as s:
        assert count_papers(session=s) == 1000  # the first batch was committed


def test_ctrl_c_stops_the_parsing_process_without_a_traceback(
    sessions: sessionmaker[Session], tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C sends SIGINT to the whole process group: the parsing process gets it as well as this one.
    def interrupted(*, session: Session, records: list[Any], seen_on: date | None = None) -> Any:
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGINT)  # type: ignore[arg-type]
            child.join(timeout=0.5)  # a process that does not ignore SIGINT has died by now
        raise KeyboardInterrupt

    monkeypatch.setattr(importers, "upsert_papers", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_import(sessions, big_snapshot(tmp_path), batch_size=1000, parallel=True)
    assert multiprocessing.active_children() == []
    assert "Traceback" not in capfd.readouterr().err


def test_a_hf_array_keeps_each_items_upvotes_on_its_list_day(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    mon, tue = date(2025, 11, 24), date(2025, 11, 25)
    items = [  # a month export: newest day first, one paper on two days' lists
        daily_item("2511.00002", "Tuesday paper", tue, upvotes=8),
        daily_item("2511.00001", "On both lists", tue, upvotes=12),
        daily_item("2511.00001", "On both lists", mon, upvotes=5),
        daily_item("2511.00003", "Monday paper", mon, upvotes=None),
    ]
    path = tmp_path / "month.json"
    path.write_text(json.dumps(items), encoding="utf-8")

    def kept() -> list[tuple[str, date, int]]:
        with sessions.begin() as s:
            rows = s.execute(select(UpvoteSnapshot.arxiv_id, UpvoteSnapshot.day, UpvoteSnapshot.upvotes))
            return sorted((i, d, n) for i, d, n in rows)

    report, _ = run_import(sessions, path, batch_size=10)
    assert report.stats.inserted == 3
    assert kept() == [("2511.00001", mon, 5), ("2511.00001", tue, 12), ("2511.00002", tue, 8)]
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2511.00001")
        assert paper is not None and (paper.hf_upvotes, paper.daily_date) == (12, tue)  # the newest list wins

    again, _ = run_import(sessions, path, batch_size=10)
    assert (again.stats.inserted, again.stats.updated) == (0, 0)
    assert len(kept()) == 3


def _rows(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """Every stored paper as (id, authors, upvotes, source, updated_at): what a no-op import must leave alone."""
    with sessions.begin() as s:
        rows = s.execute(
            select(
                PAPERS.c.arxiv_id, PAPERS.c.authors, PAPERS.c.hf_upvotes, PAPERS.c.source, PAPERS.c.updated_at
            ).order_by(PAPERS.c.arxiv_id)
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("batch_size", [1, 10], ids=["items-in-two-batches", "one-batch"])
def test_a_paper_listed_twice_on_one_day_keeps_its_first_listing_and_a_reimport_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path, batch_size: int
) -> None:
    mon = date(2025, 11, 24)
    items = [
        daily_item("2511.00001", "Twice", mon, upvotes=3),
        daily_item("2511.00002", "Once", mon, upvotes=1),
        daily_item("2511.00001", "Twice", mon, upvotes=9),
    ]
    path = tmp_path / "day.json"
    path.write_text(json.dumps(items), encoding="utf-8")

    first, printed = run_import(sessions, path, batch_size=batch_size)
    assert (first.stats.inserted, first.stats.updated, first.rejected_count) == (2, 0, 1)
    assert "item 3: 2511.00001 is listed twice on 2025-11-24's list; its first listing (item 1) is kept" in printed
    stored = _rows(sessions)
    assert [(i, n) for i, _, n, _, _ in stored] == [("2511.00001", 3), ("2511.00002", 1)]
    for _ in range(2):
        again, _ = run_import(sessions, path, batch_size=batch_size)
        assert (again.stats.inserted, again.stats.updated, again.stats.unchanged) == (0, 0, 2)
        assert _rows(sessions) == stored


@pytest.mark.parametrize("order", ["hf-first", "snapshot-first"])
def test_a_snapshot_imported_beside_hf_data_settles_at_once(
    sessions: sessionmaker[Session], tmp_path: Path, order: str
) -> None:
    # The same paper from both: HF spells an author one way, the snapshot (a LaTeX-escaped dump) another, and
    # the snapshot names a version HF does not. Before, each import flipped the spelling until the third.
    hf_item = daily_item("2511.00001", "Shared paper", date(2025, 11, 24), upvotes=4)
    hf_item["paper"]["authors"] = [{"name": "Tomas Hrycej"}]
    hf = tmp_path / "hf.json"
    hf.write_text(json.dumps([hf_item]), encoding="utf-8")
    snap = write(
        tmp_path / "snap.jsonl",
        [
            snapshot_line(
                "2511.00001",
                "Shared paper",
                authors_parsed=[["Hrycej", "Tom\\'a\\v{s}", ""]],
                doi="10.1/x",
                versions=[{"version": "v1", "created": "Mon, 3 Nov 2025 10:00:00 GMT"}],
                update_date="2025-11-05",
            )
        ],
    )
    paths = [hf, snap] if order == "hf-first" else [snap, hf]

    run_import(sessions, *paths)
    stored = _rows(sessions)
    assert [(authors, source) for _, authors, _, source, _ in stored] == [(["Tomas Hrycej"], "hf")]
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2511.00001")
        assert paper is not None and (paper.doi, paper.version) == ("10.1/x", "v1")  # the gaps are filled
    for _ in range(2):
        again, _ = run_import(sessions, *paths)
        assert (again.stats.inserted, again.stats.updated, again.stats.unchanged) == (0, 0, 2)
        assert _rows(sessions) == stored
