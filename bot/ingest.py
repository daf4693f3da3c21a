"""`paperbot fetch`: read Hugging Face daily lists, enrich them from arXiv, and store them, one day per
transaction; also single papers by id (Hugging Face, else arXiv), HF's week and month lists, and an arXiv
category's newest submissions (papers HF never listed).

A day whose list is empty (weekends, a day not yet filled) is normal. When a day fails, the days before it
stay stored and the error says where to resume.

HF records carry no arXiv categories, comments, journal reference or DOI; bot.enrich asks arXiv for them.
arXiv being down costs the enrichment only: one warning line, and the papers are stored without it (a later
fetch of the same days enriches them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from bot.enrich import enrich_with, fill_from, lacking_arxiv
from bot.sources.arxiv import BATCH, ArxivClient
from bot.sources.hf import HFClient, SourceError, parse_items
from storage.papers import UpsertStats, upsert_papers
from storage.records import PaperRecord
from storage.text import first_line

log = logging.getLogger(__name__)


class FetchFailure(Exception):
    """A day could not be fetched; the message names the day, the reason and how to resume."""


@dataclass
class FetchReport:
    """What a fetch did, for the summary line."""

    days: int = 0
    empty_days: int = 0
    papers: int = 0
    stats: UpsertStats = field(default_factory=UpsertStats)
    arxiv: bool | None = True  # whether arXiv was asked (False with --no-arxiv; None: the papers came from it)
    enriched: int = 0
    arxiv_failed: bool = False
    what: str = ""  # what was fetched when it was not a run of days: "2 papers by id", "week 2025-W48", ...
    missing: list[str] = field(default_factory=list)  # ids neither Hugging Face nor arXiv knows

    def summary(self) -> str:
        """One line: `fetched 3 days (1 empty), 12 papers: 12 inserted, 0 updated, 0 unchanged; 12 enriched
        from arXiv` (`arXiv skipped` with --no-arxiv, `arXiv unavailable` after a warning)."""
        s = self.stats
        if not self.arxiv:
            arxiv = "arXiv skipped"
        else:
            arxiv = f"{self.enriched} enriched from arXiv" + (" (arXiv unavailable)" if self.arxiv_failed else "")
        fetched = self.what or f"{self.days} day{'s' if self.days != 1 else ''} ({self.empty_days} empty)"
        papers = f"{self.papers} paper{'s' if self.papers != 1 else ''}"
        line = f"fetched {fetched}, {papers}: {s.inserted} inserted, {s.updated} updated, {s.unchanged} unchanged" + (
            "" if self.arxiv is None else f"; {arxiv}"
        )
        if self.missing:
            line += f"; not found on Hugging Face{'' if not self.arxiv else ' or arXiv'}: {', '.join(self.missing)}"
        return line


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


def fetch_days(
    client: HFClient,
    *,
    sessions: sessionmaker[Session],
    days: Sequence[date],
    arxiv: ArxivClient | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> FetchReport:
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
                asking.update(lacking_arxiv(records, sessions))
            if arxiv is None or len(asking) >= BATCH:
                store_pending()
        store_pending()
    return report


def fetch_papers(
    client: HFClient,
    *,
    sessions: sessionmaker[Session],
    ids: Sequence[str],
    arxiv: ArxivClient | None = None,
    console: Console | None = None,
) -> FetchReport:
    """Single papers by versionless arXiv id: from Hugging Face where it knows them, else from arXiv, which knows
    every paper (without `arxiv`, ids HF lacks are reported missing). One arXiv request (per 100 ids) serves both
    the papers HF lacks and the enrichment of those it has. Stored in one transaction, with no per-day upvote
    snapshot (the figures are today's, not a list day's). A failing HF is a FetchFailure (nothing stored); a
    failing arXiv is one warning: HF's papers are stored, the others reported missing."""
    console = console or Console(stderr=True)
    wanted = list(dict.fromkeys(ids))
    report = FetchReport(arxiv=arxiv is not None, what=f"{len(wanted)} paper{'s' if len(wanted) != 1 else ''} by id")
    records: list[PaperRecord] = []
    for arxiv_id in wanted:
        try:
            record = client.paper(arxiv_id)
        except SourceError as exc:
            raise FetchFailure(f"{arxiv_id}: {exc} (nothing stored; run the same command again)") from None
        if record is not None:
            records.append(record)
    from_hf = {r.arxiv_id for r in records}
    if arxiv is not None:
        to_enrich = lacking_arxiv(records, sessions)
        ask = [i for i in wanted if i not in from_hf or i in to_enrich]
        try:
            answers = arxiv.by_ids(ask) if ask else []
        except (SourceError, httpx.HTTPError) as exc:
            _warn(
                console,
                f"arXiv did not answer ({first_line(exc)}): papers Hugging Face does not know are not"
                " fetched, the others are stored without arXiv's categories (a later fetch fills them)",
            )
            report.arxiv_failed = True
            answers = []
        for answer in answers:
            if answer.arxiv_id in from_hf:
                report.enriched += sum(fill_from(record, answer) for record in to_enrich.get(answer.arxiv_id, ()))
            else:
                records.append(answer)
    found = {r.arxiv_id for r in records}
    report.missing = [i for i in wanted if i not in found]
    _store(records, sessions=sessions, report=report, per_list_day=False)
    return report


def fetch_period(
    client: HFClient,
    *,
    sessions: sessionmaker[Session],
    week: str | None = None,
    month: str | None = None,
    arxiv: ArxivClient | None = None,
    console: Console | None = None,
) -> FetchReport:
    """Hugging Face's list of a whole ISO week (`2025-W48`) or month (`2025-11`), each paper stamped with its
    own list day and its upvotes kept for that day, as `fetch --since` would store them, in one transaction.
    A week or month spelt wrong is a ValueError; a failing source a FetchFailure (nothing stored)."""
    console = console or Console(stderr=True)
    try:
        items = client.week(week) if week else client.month(month or "")
    except SourceError as exc:
        raise FetchFailure(f"{week or month}: {exc} (nothing stored; run the same command again)") from None
    records = parse_items(items)
    days = {r.daily_date for r in records}
    report = FetchReport(
        arxiv=arxiv is not None,
        what=f"{'week' if week else 'month'} {week or month} ({len(days)} list day{'s' if len(days) != 1 else ''})",
    )
    _store(records, sessions=sessions, report=report, per_list_day=True, arxiv=arxiv, console=console)
    return report


def fetch_category(
    arxiv: ArxivClient,
    *,
    sessions: sessionmaker[Session],
    category: str,
    limit: int,
    console: Console | None = None,
    progress: bool = True,
) -> FetchReport:
    """The newest `limit` submissions of an arXiv category (e.g. `cs.CL`), papers Hugging Face may never list,
    a request per 100 (3 s apart, arXiv's terms), stored in one transaction. FetchFailure when arXiv fails."""
    console = console or Console(stderr=True)
    records: list[PaperRecord] = []
    pages = -(-limit // CATEGORY_PAGE)
    with _progress(console, enabled=progress, unit="requests") as bar:
        task = bar.add_task(f"asking arXiv for {category}", total=pages)
        for start in range(0, limit, CATEGORY_PAGE):
            try:
                page = arxiv.by_category(category, start=start, max_results=min(CATEGORY_PAGE, limit - start))
            except (SourceError, httpx.HTTPError) as exc:
                raise FetchFailure(
                    f"arXiv, category {category}: {first_line(exc)} (nothing stored; run the same command again)"
                ) from None
            records.extend(page)
            bar.advance(task)
            if len(page) < min(CATEGORY_PAGE, limit - start):
                break  # the category has no more
    report = FetchReport(arxiv=None, what=f"arXiv category {category}")  # from arXiv: nothing to enrich
    _store(records, sessions=sessions, report=report, per_list_day=False)
    return report


CATEGORY_PAGE = 100  # papers per arXiv category request


def _store(
    records: list[PaperRecord],
    *,
    sessions: sessionmaker[Session],
    report: FetchReport,
    per_list_day: bool,
    arxiv: ArxivClient | None = None,
    console: Console | None = None,
) -> None:
    """Enrich `records` from arXiv (with `arxiv`) and store them in one transaction, counting into `report`;
    with `per_list_day`, each HF list day's upvotes are kept for that day."""
    if arxiv is not None:
        shown = console or Console(stderr=True)
        enriched, failed = enrich_with(arxiv, records, sessions=sessions, warn=lambda text: _warn(shown, text))
        report.enriched += enriched
        report.arxiv_failed = report.arxiv_failed or failed
    groups: dict[date | None, list[PaperRecord]] = {}
    for record in records:
        groups.setdefault(record.daily_date if per_list_day else None, []).append(record)
    with sessions.begin() as session:
        # Oldest list first, so a paper on two lists keeps the newest one's figures (as a backfill does).
        for day, group in sorted(groups.items(), key=lambda g: (g[0] is not None, g[0] or date.min)):
            report.stats.merge(upsert_papers(session=session, records=group, seen_on=day))
    report.papers += len(records)


def _warn(console: Console, message: str) -> None:
    """A warning for the operator: one plain line on the console (and the log at DEBUG)."""
    log.debug("%s", message)
    console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def _enrich_pending(
    arxiv: ArxivClient,
    pending: list[tuple[date, list[PaperRecord]]],
    *,
    sessions: sessionmaker[Session],
    report: FetchReport,
    bar: Progress,
    task: TaskID,
) -> None:
    def show(done: int, total: int) -> None:
        if total:
            bar.update(
                task,
                description=f"asking arXiv about papers {done + 1}-{min(done + BATCH, total)} of {total}"
                if done < total
                else f"asked arXiv about {total} papers",
            )

    records = [r for _, rs in pending for r in rs]
    enriched, failed = enrich_with(
        arxiv, records, sessions=sessions, warn=lambda text: _warn(bar.console, text), on_batch=show
    )
    report.enriched += enriched
    report.arxiv_failed = report.arxiv_failed or failed


def _progress(console: Console, *, enabled: bool, unit: str = "days") -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )
