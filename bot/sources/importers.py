"""Bulk import (`paperbot import PATH...`): HF `daily_papers` JSON arrays and arXiv snapshot JSON lines.

The format is told by content, never by file name: gzip by its magic bytes, then the first non-space byte,
`[` for a JSON array of HF items, `{` for JSON lines. Files are streamed (constant memory) and written in
batches, one transaction per batch, through storage.papers.upsert_papers, so importing a file twice changes
nothing. HF items keep their upvotes as seen on their list day (the per-day snapshots "trending" reads).
A malformed record is reported with its file and line (or item) number and skipped; the rest imports.
A damaged file (a truncated or corrupt .gz) stops the import with one line saying how far it got; the batches
before the damage stay committed.
"""

from __future__ import annotations

import fcntl
import gc
import gzip
import multiprocessing
import signal
import time
import zlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import ijson
import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.links import normalize_arxiv_id
from bot.sources.hf import parse_daily_item
from storage.papers import UpsertStats, upsert_papers
from storage.records import PaperRecord
from storage.states import PaperSource
from storage.text import without_nul

DEFAULT_BATCH = 5000
HF_ARRAY = "hf-daily-papers"
SNAPSHOT = "arxiv-snapshot"
# Broken records are all printed, but only this many are kept in the report, so memory stays constant.
KEEP_REJECTED = 1000
# Snapshot files at least this big are parsed by a second process while this one writes (starting it takes
# about half a second); smaller ones are parsed in turn with writing.
PARALLEL_BYTES = 32 * 1024 * 1024

# What reading a damaged file raises: a truncated .gz (EOFError), a bad checksum or header (BadGzipFile, an
# OSError), corrupt compressed data (zlib.error), a disk error.
_UNREADABLE = (OSError, EOFError, zlib.error)

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}


class _Version(msgspec.Struct, gc=False):
    version: str | None = None
    created: str | None = None


class _SnapshotLine(msgspec.Struct, gc=False, rename={"journal_ref": "journal-ref"}):
    """The fields of a snapshot line that paperbot keeps, typed: decoding skips the rest (submitter, license,
    report-no) and checks the types in C. A line that does not fit is parsed again as a generic object."""

    id: str | None = None
    title: str | None = None
    authors: str | None = None
    authors_parsed: list[list[str]] | None = None
    abstract: str | None = None
    versions: list[_Version] | None = None
    update_date: str | None = None
    categories: str | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


class ImportFailure(Exception):
    """A path cannot be imported at all (missing, unreadable, not a known format); the message says which."""


@dataclass(frozen=True)
class Rejected:
    """A record that was skipped: where it is and why."""

    path: str
    where: str  # "line 17" or "item 3"
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: records read, the upsert's counts, and the rejected records."""

    read: int = 0
    stats: UpsertStats = field(default_factory=UpsertStats)
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, item: Rejected) -> None:
        """Count a rejected record, keeping the first KEEP_REJECTED of them."""
        self.rejected_count += 1
        if len(self.rejected) < KEEP_REJECTED:
            self.rejected.append(item)

    @property
    def accepted(self) -> int:
        return self.stats.total

    def summary(self) -> str:
        """One line: `read 10, inserted 7, updated 0, unchanged 1, rejected 2 in 0.3 s (33 records/s)`."""
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        s = self.stats
        return (
            f"read {self.read:,}, inserted {s.inserted:,}, updated {s.updated:,}, unchanged {s.unchanged:,},"
            f" rejected {self.rejected_count:,} in {self.seconds:.1f} s ({rate:,.0f} records/s)"
        )


def import_paths(
    paths: Sequence[str | Path],
    *,
    sessions: sessionmaker[Session],
    batch_size: int = DEFAULT_BATCH,
    console: Console | None = None,
    progress: bool = True,
    parallel: bool | None = None,
) -> ImportReport:
    """Import every path (after checking all of them first); raises ImportFailure naming a bad path.

    `parallel`: parse snapshot files in a second process (None: for files of PARALLEL_BYTES and more).
    """
    console = console or Console(stderr=True)
    plan = [(Path(p), detect_format(Path(p))) for p in paths]
    report = ImportReport()
    started = time.perf_counter()
    with _progress(console, enabled=progress) as bar, _gc_paused():
        for path, kind in plan:
            file_report = _import_file(path, kind, sessions=sessions, batch_size=batch_size, bar=bar, parallel=parallel)
            if len(plan) > 1:
                _say(bar.console, f"{path}: {file_report.summary()}")
            _add(report, file_report)
    report.seconds = time.perf_counter() - started
    return report


def detect_format(path: Path) -> str | None:
    """HF_ARRAY, SNAPSHOT, or None for an empty file; ImportFailure for a missing/unreadable/other file."""
    try:
        with path.open("rb") as raw, _decompressed(raw) as stream:
            head = b""
            while not head:
                chunk = stream.read(65536)
                if not chunk:
                    return None
                head = chunk.lstrip()
    except FileNotFoundError:
        raise ImportFailure(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFailure(f"{path}: is a directory, not a file") from None
    except _UNREADABLE as exc:  # PermissionError, a truncated or corrupt .gz
        raise ImportFailure(f"{path}: {_cannot_read(exc)}") from None
    if head.startswith(b"["):
        return HF_ARRAY
    if head.startswith(b"{"):
        return SNAPSHOT
    raise ImportFailure(
        f"{path}: not a Hugging Face daily_papers JSON array nor arXiv snapshot JSON lines"
        " (it should start with '[' or '{')"
    )


def parse_snapshot_record(obj: Any) -> PaperRecord:
    """A PaperRecord from one arXiv metadata snapshot object; raises ValueError saying what is wrong.

    >>> record = parse_snapshot_record({"id": "hep-th/9901001", "title": "A\\n B", "categories": "hep-th"})
    >>> record.title, record.primary_category
    ('A B', 'hep-th')
    """
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    obj = without_nul(obj)
    raw_id, title = obj.get("id"), _collapse(obj.get("title"))
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("missing id")
    parsed = normalize_arxiv_id(raw_id)
    if parsed is None:
        raise ValueError(f"id {raw_id!r} is not an arXiv id")
    if title is None:
        raise ValueError(f"{parsed[0]}: missing title")
    given = obj.get("versions")
    versions = [v for v in given if isinstance(v, dict)] if isinstance(given, list) else []
    # The snapshot's id is versionless; its newest version is the last entry of `versions`.
    version = parsed[1] or (_text(versions[-1].get("version")) if versions else None)
    categories = obj["categories"].split() if isinstance(obj.get("categories"), str) else []
    return PaperRecord(
        arxiv_id=parsed[0],
        version=version,
        title=title,
        authors=_snapshot_authors(obj),
        abstract=_collapse(obj.get("abstract")),
        published=_rfc2822_date(versions[0].get("created")) if versions else None,
        updated=_iso_date(obj.get("update_date")),
        categories=categories,
        primary_category=categories[0] if categories else None,
        comments=_collapse(obj.get("comments")),
        journal_ref=_collapse(obj.get("journal-ref")),
        doi=_text(obj.get("doi")),
        source=PaperSource.SNAPSHOT,
    )


def _import_file(
    path: Path,
    kind: str | None,
    *,
    sessions: sessionmaker[Session],
    batch_size: int,
    bar: Progress,
    parallel: bool | None,
) -> ImportReport:
    """Stream one file into the database, a transaction per batch; broken records are printed as they come."""
    report = ImportReport()
    if kind is None:
        return report
    started = time.perf_counter()
    task = bar.add_task(path.name, total=path.stat().st_size, records=0)
    if parallel is None:
        parallel = kind == SNAPSHOT and path.stat().st_size >= PARALLEL_BYTES
    chunks = _parsed_elsewhere(path, batch_size) if parallel and kind == SNAPSHOT else _parsed(path, kind, batch_size)
    # closing(): on an error while writing, or Ctrl-C, the parsing process is stopped now, not when the
    # generator happens to be collected.
    with closing(chunks):
        for chunk in chunks:
            _write(chunk, report, sessions=sessions, console=bar.console)
            report.seconds = time.perf_counter() - started
            if chunk.error is not None:  # the batches before the damage are committed; say how far it got
                raise ImportFailure(f"{path}: {chunk.error}; what came before is imported: {report.summary()}")
            bar.update(task, completed=chunk.position, records=report.read)
    return report


def _write(chunk: _Chunk, report: ImportReport, *, sessions: sessionmaker[Session], console: Console) -> None:
    """Commit a chunk's records in one transaction and print its rejected ones."""
    report.read += chunk.read
    for item in chunk.rejected:
        report.reject(item)
        _say(console, f"skipped {item}")
    if chunk.records:
        with sessions.begin() as session:
            for day, records in _by_list_day(chunk.records):
                # An HF item's upvotes are kept as seen on its own list day, as `paperbot fetch` keeps them,
                # so an imported archive fills "trending" too.
                report.stats.merge(upsert_papers(session=session, records=records, seen_on=day))


def _by_list_day(records: list[PaperRecord]) -> list[tuple[date | None, list[PaperRecord]]]:
    """`records` grouped by their HF list day, records without one first, then oldest day first (so when a
    paper is on two lists, the newest list's upvotes are the ones it keeps); each group in file order."""
    if all(r.daily_date is None for r in records):  # a snapshot file's chunk: one group, no copying
        return [(None, records)]
    groups: dict[date | None, list[PaperRecord]] = {}
    for record in records:
        groups.setdefault(record.daily_date, []).append(record)
    return sorted(groups.items(), key=lambda group: (group[0] is not None, group[0] or date.min))


class _Chunk(msgspec.Struct, gc=False):
    """Up to a batch of parsed records, the rejected ones met meanwhile, and how far into the file they reach."""

    records: list[PaperRecord]
    rejected: list[Rejected]
    read: int  # records read, rejected ones included
    position: int  # bytes of the (compressed) file read so far
    error: str | None = None  # why reading stopped before the end of the file: the last chunk


def _parsed(path: Path, kind: str, batch_size: int) -> Generator[_Chunk, None, None]:
    """The file's records and rejected records, a batch at a time; damage ends it with an `error` chunk
    holding the records read before it."""
    chunk = _Chunk([], [], 0, 0)
    try:
        with path.open("rb") as raw, _decompressed(raw) as stream:
            items = _json_lines(stream, str(path)) if kind == SNAPSHOT else _hf_array(stream, str(path))
            for item in items:
                chunk.read += 1
                if isinstance(item, Rejected):
                    chunk.rejected.append(item)
                else:
                    chunk.records.append(item)
                    if len(chunk.records) >= batch_size:
                        chunk.position = raw.tell()
                        yield chunk
                        chunk = _Chunk([], [], 0, chunk.position)
            chunk.position = raw.tell()
    except _UNREADABLE as exc:  # raised by reading only: the consumer's errors do not enter a generator
        chunk.error = _cannot_read(exc)
    yield chunk


def _cannot_read(exc: BaseException) -> str:
    """`cannot be read (Permission denied)`, `cannot be read (CRC check failed ...)`."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"cannot be read ({reason})"


def _parsed_elsewhere(path: Path, batch_size: int) -> Generator[_Chunk, None, None]:
    """_parsed(path, SNAPSHOT, ...) run by a process of its own, so parsing the next batch overlaps writing
    this one (a thread would not: SQLite takes the GIL back after every row). Records cross as msgpack,
    about 6 us each (pickle took 13 or more)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    receiver, sender = context.Pipe(duplex=False)
    _widen(receiver)
    worker = context.Process(target=_parse_worker, args=(str(path), batch_size, sender), daemon=True)
    worker.start()
    sender.close()
    decode = msgspec.msgpack.Decoder(_Chunk).decode
    finished = False
    try:
        while True:
            try:
                data = receiver.recv_bytes()
            except EOFError:  # the worker has sent everything, or died
                finished = True
                break
            yield decode(data)
    finally:
        receiver.close()
        if not finished:  # stopped early (damage, an error while writing, Ctrl-C): the rest is not wanted
            worker.terminate()
        worker.join()
    if worker.exitcode != 0:
        raise ImportFailure(f"{path}: the parsing process ended unexpectedly (exit code {worker.exitcode})")


def _widen(pipe: Connection) -> None:
    """Grow the pipe's buffer from 64 KB to 1 MB where Linux allows: a chunk then crosses in a few reads
    rather than 130, each a wait for the other process to be scheduled."""
    with suppress(OSError, AttributeError):  # not Linux, or a lower limit (/proc/sys/fs/pipe-max-size)
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)


def _parse_worker(path: str, batch_size: int, sender: Connection) -> None:
    """The parsing process: the chunks of `path` as msgpack, the last one saying why if reading failed."""
    # Ctrl-C reaches the whole process group; the parent decides, and stops this process if need be.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    encode = msgspec.msgpack.Encoder().encode
    with sender, _gc_paused():
        try:
            for chunk in _parsed(Path(path), SNAPSHOT, batch_size):
                sender.send_bytes(encode(chunk))
        except BrokenPipeError:  # the parent stopped reading (and is about to stop this process): not news
            pass


def _json_lines(stream: IO[bytes], name: str) -> Iterator[PaperRecord | Rejected]:
    # Typed decoding (about 20% faster than msgspec's generic decode, itself 3x faster than json) and a parser
    # of the typed line; a line with other types, or broken, goes through the generic path, which says why.
    # A line holding an escaped NUL (`\u0000`) takes the generic path too, which drops NULs (without_nul).
    decode_typed = msgspec.json.Decoder(_SnapshotLine).decode
    decode = msgspec.json.Decoder().decode
    for number, line in enumerate(stream, start=1):
        if b"\\u0000" not in line:
            try:
                yield _typed_record(decode_typed(line))
                continue
            except (msgspec.DecodeError, ValueError):
                pass
        if not line.strip():
            continue
        try:
            yield parse_snapshot_record(decode(line))
        except msgspec.DecodeError as exc:
            yield Rejected(name, f"line {number}", f"bad JSON ({exc})")
        except ValueError as exc:
            yield Rejected(name, f"line {number}", str(exc))
        except Exception as exc:  # a shape no rule above foresaw: still this line's problem, not the import's
            yield Rejected(name, f"line {number}", f"not a usable snapshot record ({type(exc).__name__}: {exc})")


def _typed_record(line: _SnapshotLine) -> PaperRecord:
    """parse_snapshot_record for a typed line (the same record; a test holds the two to it)."""
    parsed = normalize_arxiv_id(line.id) if line.id is not None else None
    title = _collapse(line.title)
    if parsed is None or title is None:
        raise ValueError("incomplete")  # the generic path says what is missing
    versions = line.versions or ()
    categories = line.categories.split() if line.categories is not None else []
    return PaperRecord(
        arxiv_id=parsed[0],
        version=parsed[1] or (_text(versions[-1].version) if versions else None),
        title=title,
        authors=_typed_authors(line),
        abstract=_collapse(line.abstract),
        published=_rfc2822_date(versions[0].created) if versions else None,
        updated=_iso_date(line.update_date),
        categories=categories,
        primary_category=categories[0] if categories else None,
        comments=_collapse(line.comments),
        journal_ref=_collapse(line.journal_ref),
        doi=_text(line.doi),
        source=PaperSource.SNAPSHOT,
    )


def _typed_authors(line: _SnapshotLine) -> list[str]:
    if not line.authors_parsed:
        return _authors_text(line.authors)
    names = []
    for parts in line.authors_parsed:
        if len(parts) == 3 and not parts[2]:
            name = f"{parts[1].strip()} {parts[0].strip()}".strip()  # the common shape, fast
        else:
            name = _first_last(parts) if parts else ""
        if name:
            names.append(name)
    return names


def _hf_array(stream: IO[bytes], name: str) -> Iterator[PaperRecord | Rejected]:
    # A JSON array has no line structure worth trusting, so broken items are named by their position.
    # A paper listed twice on one day keeps its first listing, as `paperbot fetch` does (parse_items); were both
    # imported, the second would overwrite the first on every import, and a re-import would never be a no-op.
    # The ids seen are kept per file: HF archives hold tens of thousands of items, not millions.
    first_at: dict[tuple[str, date | None], int] = {}
    number = 0
    try:
        for number, item in enumerate(ijson.items(stream, "item", use_float=True), start=1):
            try:
                record = parse_daily_item(item)
                first = first_at.setdefault((record.arxiv_id, record.daily_date), number)
                if first == number:
                    yield record
                else:
                    yield Rejected(
                        name,
                        f"item {number}",
                        f"{record.arxiv_id} is listed twice on"
                        f" {record.daily_date or 'no day'}'s list; its first listing (item {first}) is kept",
                    )
            except ValueError as exc:
                yield Rejected(name, f"item {number}", str(exc))
            except Exception as exc:  # a shape no rule foresaw: still this item's problem, not the import's
                yield Rejected(name, f"item {number}", f"not a usable Hugging Face item ({type(exc).__name__}: {exc})")
    except ijson.JSONError as exc:
        reason = f"bad JSON ({str(exc).splitlines()[0]}); the rest of this file is skipped"
        yield Rejected(name, f"after item {number}", reason)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector: with a batch of records alive it rescans them again and again, which made
    parsing three to six times slower (measured); records hold no cycles, and one collection runs at the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def _say(console: Console, text: str) -> None:
    """Print plain text above the progress bar, unwrapped (file names and JSON errors are not rich markup)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _add(total: ImportReport, part: ImportReport) -> None:
    total.read += part.read
    total.stats.merge(part.stats)
    for item in part.rejected:
        total.reject(item)
    total.rejected_count += part.rejected_count - len(part.rejected)


def _progress(console: Console, *, enabled: bool) -> Progress:
    """A bar per file with bytes read, the byte rate, and records read so far."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    """The decompressed bytes of `raw`: gzip is told by its magic bytes, not by the file name."""
    magic = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw  # type: ignore[return-value]


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _collapse(value: Any) -> str | None:
    """Line breaks and runs of spaces become one space (the snapshot hard-wraps titles); LaTeX stays."""
    if not isinstance(value, str):
        return None
    # Snapshot text breaks lines with a bare "\n"; replacing it is 3x faster than split/join (measured), which
    # remains the fallback for any other run of whitespace.
    text = value.strip().replace("\n", " ")
    if "  " in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text or None


def _snapshot_authors(obj: dict[str, Any]) -> list[str]:
    """`authors_parsed` ([last, first, suffix]) as "First Last Suffix"; else the `authors` string split."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = (_first_last(parts) for parts in parsed if isinstance(parts, list) and parts)
        return [name for name in names if name]
    return _authors_text(obj.get("authors"))


def _authors_text(value: Any) -> list[str]:
    """`A. One, B. Two and C. Three` as names."""
    text = _collapse(value)
    if text is None:
        return []
    return [a.strip() for a in text.replace(" and ", ", ").split(",") if a.strip()]


def _first_last(parts: list[Any]) -> str:
    """`_first_last(["Curie", "Marie", ""]) == "Marie Curie"`: [last, first, suffix, ...] in reading order."""
    if len(parts) == 3 and not parts[2] and isinstance(parts[1], str) and isinstance(parts[0], str):
        return f"{parts[1].strip()} {parts[0].strip()}".strip()  # the common shape, fast
    ordered = [*parts[1:2], parts[0], *parts[2:]]
    try:
        return " ".join(" ".join(ordered).split())  # also drops the empty suffix
    except TypeError:  # a non-string part: keep the strings
        return " ".join(" ".join(p for p in ordered if isinstance(p, str)).split())


def _rfc2822_date(value: Any) -> date | None:
    """The date of `Mon, 2 Apr 2007 19:18:42 GMT`: a fast path for the snapshot's format, else the stdlib."""
    if not isinstance(value, str):
        return None
    parts = value.split()
    try:
        if len(parts) >= 4 and parts[2] in _MONTHS:
            return date(int(parts[3]), _MONTHS[parts[2]], int(parts[1]))
        return parsedate_to_datetime(value).date()
    except (ValueError, TypeError):
        return None


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
