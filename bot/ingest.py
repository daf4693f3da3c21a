"""`paperbot fetch`: read Hugging Face daily lists and store them, one day per transaction.

A day whose list is empty (weekends, a day not yet filled) is normal. When a day fails, the days before it
stay stored and the error says where to resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from bot.sources.hf import HFClient, SourceError
from storage.papers import UpsertStats, upsert_papers


class FetchFailure(Exception):
    """A day could not be fetched; the message names the day, the reason and how to resume."""


@dataclass
class FetchReport:
    """What a fetch did, for the summary line."""

    days: int = 0
    empty_days: int = 0
    papers: int = 0
    stats: UpsertStats = field(default_factory=UpsertStats)

    def summary(self) -> str:
        """One line: `fetched 3 days (1 empty), 12 papers: 12 inserted, 0 updated, 0 unchanged`."""
        s = self.stats
        days = f"{self.days} day{'s' if self.days != 1 else ''}"
        return (f"fetched {days} ({self.empty_days} empty), {self.papers} papers: {s.inserted} inserted,"
                f" {s.updated} updated, {s.unchanged} unchanged")


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
               console: Console | None = None, progress: bool = True) -> FetchReport:
    """Fetch and store each day's list, oldest first, one transaction per day, with a progress bar."""
    console = console or Console(stderr=True)
    report = FetchReport()
    with _progress(console, enabled=progress) as bar:
        task = bar.add_task("fetching", total=len(days))
        for day in days:
            bar.update(task, description=f"fetching {day}")
            try:
                records = client.daily_records(day)
            except SourceError as exc:
                stored = f"{report.days} earlier day{'s' if report.days != 1 else ''} stored"
                raise FetchFailure(f"{day}: {exc} ({stored}; resume with --since {day})") from None
            with sessions.begin() as session:
                # Upvotes are kept per list day, as the digest does, so a backfill fills "trending" too.
                stats = upsert_papers(session=session, records=records, seen_on=day)
            report.days += 1
            report.empty_days += not records
            report.papers += len(records)
            report.stats.merge(stats)
            bar.advance(task)
    return report


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
