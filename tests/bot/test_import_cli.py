"""`paperbot import` end to end: the real command on real files into a real database (both backends)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import cli
from storage.papers import count_papers, get_paper

Run = Callable[..., Result]


def line(arxiv_id: str, title: str) -> str:
    return json.dumps(
        {
            "id": arxiv_id,
            "title": title,
            "categories": "cs.CL",
            "abstract": "Text.",
            "versions": [{"version": "v1", "created": "Thu, 17 Oct 2024 14:20:01 GMT"}],
        }
    )


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Run:
    monkeypatch.chdir(tmp_path)  # no stray .env
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, ["import", *map(str, args)], env={"DATABASE_URL": db_url})


def test_import_reports_broken_lines_and_is_idempotent(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    lines = [
        line("2410.13732", "Reducing the Transformer Architecture to a Minimum"),
        "{oops",
        line("x", "y"),
        line("2410.13732", "Reducing the Transformer Architecture to a Minimum"),
    ]
    plain = tmp_path / "part1.jsonl"
    plain.write_text("\n".join(lines) + "\n")
    packed = tmp_path / "part2.jsonl.gz"
    packed.write_bytes(gzip.compress((line("hep-th/9901001", "An old paper") + "\n").encode()))

    first = run(plain, packed)
    assert first.exit_code == 0, first.output
    assert f"skipped {plain}: line 2: bad JSON" in first.output
    assert f"skipped {plain}: line 3: id 'x' is not an arXiv id" in first.output
    assert "read 5, inserted 2, updated 0, unchanged 1, rejected 2" in first.output
    with sessions.begin() as s:
        assert count_papers(session=s) == 2
        paper = get_paper(session=s, arxiv_id="2410.13732")
        assert paper is not None and paper.published is not None and paper.published.isoformat() == "2024-10-17"

    again = run(plain, packed, "--no-progress")
    assert again.exit_code == 0, again.output
    assert "read 5, inserted 0, updated 0, unchanged 3, rejected 2" in again.output


def test_a_missing_path_fails_with_one_line_and_imports_nothing(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(line("2410.13732", "A title") + "\n")
    result = run(good, tmp_path / "missing.jsonl")
    assert result.exit_code == 1
    assert result.output.strip() == f"paperbot: {tmp_path / 'missing.jsonl'}: no such file"
    with sessions.begin() as s:
        assert count_papers(session=s) == 0


def test_a_file_of_only_broken_lines_fails(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no id"}\n{"id": "2410.13732"}\n')
    result = run(bad)
    assert result.exit_code == 1
    assert "skipped" in result.output and "line 2" in result.output
    assert result.output.strip().splitlines()[-1] == "paperbot: nothing imported: all 2 records were rejected"


def test_a_truncated_gz_fails_with_one_line_and_keeps_the_records_before_the_cut(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    text = "".join(line(f"2501.{n:05d}", f"Paper number {n}") + "\n" for n in range(1500))  # > 64 KB
    packed = gzip.compress(text.encode())
    cut = packed[: len(packed) * 2 // 3]
    whole_lines = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(cut)

    result = run(path, "--no-progress", "--batch-size", "100")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "Aborted" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"paperbot: {path}: cannot be read (Compressed file ended before the end-of-stream")
    assert f"read {whole_lines:,}, inserted {whole_lines:,}," in last
    with sessions.begin() as s:
        assert count_papers(session=s) == whole_lines > 0


def test_a_file_with_conflicting_duplicates_imported_twice_changes_nothing_the_second_time(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    def snapshot(version: str, update_date: str, categories: str, title: str) -> str:
        return json.dumps(
            {
                "id": "2410.13732",
                "title": title,
                "categories": categories,
                "abstract": "Text.",
                "update_date": update_date,
                "versions": [
                    {"version": v, "created": "Thu, 17 Oct 2024 14:20:01 GMT"} for v in ("v1", "v2")[: int(version[1])]
                ],
            }
        )

    path = tmp_path / "dupes.jsonl"
    path.write_text(
        "\n".join(
            [
                snapshot("v2", "2024-11-02", "cs.LG cs.CL", "Final title"),
                line("2410.00001", "Another paper"),
                snapshot("v1", "2024-10-17", "cs.CL", "First title"),
            ]
        )
        + "\n"
    )
    first = run(path, "--no-progress")
    assert first.exit_code == 0, first.output
    assert "read 3, inserted 2, updated 0, unchanged 1, rejected 0" in first.output
    with sessions.begin() as s:
        paper = get_paper(session=s, arxiv_id="2410.13732")
        assert paper is not None
        stamp = paper.updated_at
        assert (paper.title, paper.categories, paper.version) == ("Final title", ["cs.LG", "cs.CL"], "v2")

    for _ in range(2):
        again = run(path, "--no-progress")
        assert again.exit_code == 0, again.output
        assert "read 3, inserted 0, updated 0, unchanged 3, rejected 0" in again.output
    with sessions.begin() as s:
        assert get_paper(session=s, arxiv_id="2410.13732").updated_at == stamp  # type: ignore[union-attr]
