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
import multiprocessing
import signal
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

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

from bot.sources.import_files import (
    HF_ARRAY,
    SNAPSHOT,
    Chunk,
    ImportFailure,
    Rejected,
    detect_format,
    read_chunks,
)
from bot.sources.snapshot import parse_snapshot_record
from storage.papers import UpsertStats, upsert_papers
from storage.records import PaperRecord

__all__ = [
    "HF_ARRAY",
    "SNAPSHOT",
    "ImportFailure",
    "ImportReport",
    "Rejected",
    "detect_format",
    "import_paths",
    "parse_snapshot_record",
]

DEFAULT_BATCH = 5000
# Broken records are all printed, but only this many are kept in the report, so memory stays constant.
KEEP_REJECTED = 1000
# Snapshot files at least this big are parsed by a second process while this one writes (starting it takes
# about half a second); smaller ones are parsed in turn with writing.
PARALLEL_BYTES = 32 * 1024 * 1024


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
    chunks = (
        _parsed_elsewhere(path, batch_size) if parallel and kind == SNAPSHOT else read_chunks(path, kind, batch_size)
    )
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


def _write(chunk: Chunk, report: ImportReport, *, sessions: sessionmaker[Session], console: Console) -> None:
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


def _parsed_elsewhere(path: Path, batch_size: int) -> Generator[Chunk, None, None]:
    """read_chunks(path, SNAPSHOT, ...) run by a process of its own, so parsing the next batch overlaps writing
    this one (a thread would not: SQLite takes the GIL back after every row). Records cross as msgpack,
    about 6 us each (pickle took 13 or more)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    receiver, sender = context.Pipe(duplex=False)
    _widen(receiver)
    worker = context.Process(target=_parse_worker, args=(str(path), batch_size, sender), daemon=True)
    worker.start()
    sender.close()
    decode = msgspec.msgpack.Decoder(Chunk).decode
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
            for chunk in read_chunks(Path(path), SNAPSHOT, batch_size):
                sender.send_bytes(encode(chunk))
        except BrokenPipeError:  # the parent stopped reading (and is about to stop this process): not news
            pass


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
