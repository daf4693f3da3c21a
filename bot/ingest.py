"""`paperbot fetch`: read Hugging Face daily lists, enrich them from arXiv, and store them, one day per
transaction.

A day whose list is empty (weekends, a day not yet filled) is normal. When a day fails, the days before it
stay stored and the error says where to resume.

HF records carry no arXiv categories, comments, journal reference or DOI; `enrich_from_arxiv` asks arXiv for
them (one `id_list` request per 100 papers, never for a paper stored with categories already). arXiv being
down costs the enrichment only: one warning line, and the papers are stored without it (a later fetch of the
same days enriches them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from bot.config import first_line
from bot.sources import PaperRecord
from bot.sources import arxiv as arxiv_api
from bot.sources.arxiv import BATCH, ArxivClient
from bot.sources.hf import HFClient, SourceError
from storage.papers import UpsertStats, ids_with_categories, upsert_papers

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

# The fields arXiv fills when a record lacks them. The title is HF's (always present) and stays.
ENRICHED_FIELDS = ("abstract", "authors", "version", "published", "updated", "categories", "primary_category",
                   "comments", "journal_ref", "doi")
QUICK_TIMEOUT = 5.0  # seconds: `quick=True` callers (a digest about to post) must not wait long for arXiv


class FetchFailure(Exception):
    """A day could not be fetched; the message names the day, the reason and how to resume."""


@dataclass
class FetchReport:
    """What a fetch did, for the summary line."""

    days: int = 0
    empty_days: int = 0
    papers: int = 0
    stats: UpsertStats = field(default_factory=UpsertStats)
    arxiv: bool = True  # whether arXiv was asked (False with --no-arxiv)
    enriched: int = 0
    arxiv_failed: bool = False

    def summary(self) -> str:
        """One line: `fetched 3 days (1 empty), 12 papers: 12 inserted, 0 updated, 0 unchanged; 12 enriched
        from arXiv` (`arXiv skipped` with --no-arxiv, `arXiv unavailable` after a warning)."""
        s = self.stats
        days = f"{self.days} day{'s' if self.days != 1 else ''}"
        if not self.arxiv:
            arxiv = "arXiv skipped"
        else:
            arxiv = f"{self.enriched} enriched from arXiv" + (" (arXiv unavailable)" if self.arxiv_failed else "")
        return (f"fetched {days} ({self.empty_days} empty), {self.papers} papers: {s.inserted} inserted,"
                f" {s.updated} updated, {s.unchanged} unchanged; {arxiv}")


def enrich_from_arxiv(settings: Settings, records: Sequence[PaperRecord], *, quick: bool = False,
                      sessions: sessionmaker[Session] | None = None) -> int:
    """Fill what `records` lack (categories, primary category, comments, journal ref, DOI, and the abstract,
    authors, version and dates when missing) from arXiv, in place; returns how many records arXiv enriched.

    Only records without categories are asked about, and with `sessions` not those stored with categories
    already, one request per 100 ids. `quick`: a 5-second timeout and no retry, for a caller that is about to
    post. Never raises for arXiv's sake: a failure is logged as one warning line and the records stay as they
    were (those enriched by earlier batches keep what they got).
    """
    timeout = min(QUICK_TIMEOUT, settings.http_timeout) if quick else None
    # Channels' digests run in parallel, each calling this with a client of its own: one process-wide turn keeps
    # arXiv's rule (one connection at a time, requests 3 s apart) across them.
    with _ARXIV_TURN:
        if (last := _ARXIV_LAST[0]) is not None and (wait := last + arxiv_api.INTERVAL - time.monotonic()) > 0:
            time.sleep(wait)
        try:
            with ArxivClient(settings, timeout=timeout, retries=0 if quick else 2) as client:
                enriched, _failed = enrich_with(client, records, sessions=sessions, warn=log.warning)
        finally:
            _ARXIV_LAST[0] = time.monotonic()
    return enriched


_ARXIV_TURN = threading.Lock()
_ARXIV_LAST: list[float | None] = [None]  # when this process's last enrichment ended (time.monotonic)


def enrich_with(client: ArxivClient, records: Sequence[PaperRecord], *,
                sessions: sessionmaker[Session] | None = None, warn: Callable[[str], None] = log.warning,
                on_batch: Callable[[int, int], None] | None = None) -> tuple[int, bool]:
    """`enrich_from_arxiv` with a client of the caller's: (records enriched, whether arXiv failed).
    `on_batch(done, total)` is called before each request and at the end, with counts of ids."""
    wanted = _lacking(records, sessions)
    ids = list(wanted)
    enriched = 0
    for start in range(0, len(ids), BATCH):
        if on_batch:
            on_batch(start, len(ids))
        batch = ids[start : start + BATCH]
        try:
            found = client.by_ids(batch)
        except (SourceError, httpx.HTTPError, ValueError) as exc:
            left = len(ids) - start
            warn(f"arXiv enrichment skipped for {left} paper{'s' if left != 1 else ''}: {first_line(exc)}"
                 " (they go on without arXiv categories; a later fetch fills them)")
            return enriched, True
        for answer in found:
            for record in wanted.get(answer.arxiv_id, ()):
                enriched += _fill(record, answer)
    if on_batch:
        on_batch(len(ids), len(ids))
    return enriched, False


def _lacking(records: Sequence[PaperRecord], sessions: sessionmaker[Session] | None) -> dict[str, list[PaperRecord]]:
    """The records worth asking arXiv about, by id: no categories, and (with `sessions`) none stored either."""
    wanted: dict[str, list[PaperRecord]] = {}
    for record in records:
        if not record.categories:
            wanted.setdefault(record.arxiv_id, []).append(record)
    if wanted and sessions is not None:
        with sessions.begin() as session:
            for known in ids_with_categories(session=session, arxiv_ids=wanted):
                del wanted[known]
    return wanted


def _fill(record: PaperRecord, answer: PaperRecord) -> bool:
    """Copy into `record` what it lacks and arXiv's `answer` has; True when anything was filled."""
    filled = False
    for name in ENRICHED_FIELDS:
        mine, theirs = getattr(record, name), getattr(answer, name)
        if (mine is None or mine == "" or mine == []) and theirs not in (None, "", []):
            setattr(record, name, list(theirs) if isinstance(theirs, list) else theirs)
            filled = True
    return filled


def days_between(since: date, until: date) -> list[date]:
    """Every day from `since` to `until`, both included; a ValueError when they are the wrong way round."""
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def plan_days(*, day: date | None, since: date | None, until: date | None, newest: date) -> list[date]:
    """The days `fetch --date/--since/--until` means; with none, the newest complete list (`newest`)."""
    if day and (since or until):
        raise ValueError("give either --date or --since/--until, not both")
    if until and not since:
        raise ValueError("--until needs --since")
    if since:
        return days_between(since, until or newest)
    return [day or newest]


def fetch_days(client: HFClient, *, sessions: sessionmaker[Session], days: Sequence[date],
               arxiv: ArxivClient | None = None, console: Console | None = None,
               progress: bool = True) -> FetchReport:
    """Fetch and store each day's list, oldest first, one transaction per day, with a progress bar.

    With `arxiv`, the lists are enriched from arXiv before they are stored: days are held back until 100
    papers need asking about (not counting those stored with categories already) or the last day, so a backfill
    costs one arXiv request per 100 papers arXiv is really asked about.
    """
    console = console or Console(stderr=True)
    report = FetchReport(arxiv=arxiv is not None)
    pending: list[tuple[date, list[PaperRecord]]] = []
    asking: set[str] = set()  # ids of the pending days' papers that arXiv will be asked about
    with _progress(console, enabled=progress) as bar:
        task = bar.add_task("fetching", total=len(days))

        def store_pending() -> None:
            if arxiv is not None and not report.arxiv_failed:
                _enrich_pending(arxiv, pending, sessions=sessions, report=report, bar=bar, task=task)
            for day, records in pending:
                with sessions.begin() as session:
                    # Upvotes are kept per list day, as the digest does, so a backfill fills "trending" too.
                    stats = upsert_papers(session=session, records=records, seen_on=day)
                report.days += 1
                report.empty_days += not records
                report.papers += len(records)
                report.stats.merge(stats)
                bar.advance(task)
            pending.clear()
            asking.clear()

        for day in days:
            bar.update(task, description=f"fetching {day}")
            try:
                records = client.daily_records(day)
            except SourceError as exc:
                store_pending()
                stored = f"{report.days} earlier day{'s' if report.days != 1 else ''} stored"
                resume = f"--since {day} --until {days[-1]}" if day < days[-1] else f"--date {day}"
                raise FetchFailure(f"{day}: {exc} ({stored}; resume with {resume})") from None
            pending.append((day, records))
            if arxiv is not None:  # only papers arXiv will be asked about count toward its batch of 100
                asking.update(_lacking(records, sessions))
            if arxiv is None or len(asking) >= BATCH:
                store_pending()
        store_pending()
    return report


def _enrich_pending(arxiv: ArxivClient, pending: list[tuple[date, list[PaperRecord]]], *,
                    sessions: sessionmaker[Session], report: FetchReport, bar: Progress, task: TaskID) -> None:
    def show(done: int, total: int) -> None:
        if total:
            bar.update(task, description=f"asking arXiv about papers {done + 1}-{min(done + BATCH, total)}"
                       f" of {total}" if done < total else f"asked arXiv about {total} papers")

    def warn(message: str) -> None:
        log.debug("%s", message)  # the console line below is what the operator sees
        bar.console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)

    records = [r for _, rs in pending for r in rs]
    enriched, failed = enrich_with(arxiv, records, sessions=sessions, warn=warn, on_batch=show)
    report.enriched += enriched
    report.arxiv_failed = report.arxiv_failed or failed


def _progress(console: Console, *, enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )
