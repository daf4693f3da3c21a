"""The commands that fill and read the database without Slack: `fetch` (Hugging Face and arXiv), `import` (bulk
files), `export` (what the team read) and `db upgrade` (the schema)."""

from __future__ import annotations

import re
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from bot.cli.common import Failure, friendly, open_database, settings_from
from bot.cli.params import DATE
from storage.db import current_revision, make_engine, make_sessions, upgrade
from storage.text import first_line

if TYPE_CHECKING:  # imported where used: `paperbot --help` should not load the HTTP clients
    from sqlalchemy.orm import Session, sessionmaker

    from bot.ingest import FetchReport
    from bot.sources.arxiv import ArxivClient
    from bot.sources.hf import HFClient


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
@click.pass_context
@friendly
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database to the newest schema (or --revision)."""
    settings = settings_from(ctx)
    engine = make_engine(settings.database_url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    except Exception as exc:
        raise Failure(f"cannot migrate {url}: {first_line(exc)} (check DATABASE_URL)") from None
    if before == after:
        click.echo(f"{url}: schema at {after}, nothing to do")
    else:
        click.echo(f"{url}: schema {before or 'empty'} -> {after}")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1), help="Rows a commit.")
@click.option("--no-progress", is_flag=True, help="No progress bar (broken records are still listed).")
@click.pass_context
@friendly
def import_command(ctx: click.Context, paths: tuple[Path, ...], batch_size: int, no_progress: bool) -> None:
    """Bulk import HF daily_papers JSON arrays or arXiv snapshot JSON lines (.gz too); safe to repeat."""
    from bot.sources.importers import ImportFailure, detect_format, import_paths

    try:
        for path in paths:  # a typo in a path fails before the database is touched
            detect_format(path)
    except ImportFailure as exc:
        raise Failure(str(exc)) from None
    engine = open_database(settings_from(ctx))
    try:
        sessions = make_sessions(engine)
        report = import_paths(paths, sessions=sessions, batch_size=batch_size, progress=not no_progress)
    except ImportFailure as exc:
        raise Failure(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(report.summary())
    if report.accepted == 0 and report.rejected_count:
        raise Failure(f"nothing imported: all {report.rejected_count:,} records were rejected")


@click.command()
@click.option("--date", "day", type=DATE, help="One day's list (default: the newest complete).")
@click.option("--since", type=DATE, help="Backfill from this day …")
@click.option("--until", type=DATE, help="… to this day (default: the newest complete list).")
@click.option(
    "--id",
    "ids",
    multiple=True,
    metavar="ID",
    help="One paper by arXiv id or arXiv/HF/alphaXiv link (repeatable): from Hugging Face, else arXiv.",
)
@click.option("--week", metavar="YYYY-Www", help="Hugging Face's list of a whole ISO week, e.g. 2025-W48.")
@click.option("--month", metavar="YYYY-MM", help="Hugging Face's list of a whole month, e.g. 2025-11.")
@click.option("--category", metavar="CAT", help="The newest submissions of an arXiv category, e.g. cs.CL.")
@click.option(
    "--max",
    "limit",
    type=click.IntRange(1, 2000),
    default=100,
    show_default=True,
    help="With --category: how many of its newest papers.",
)
@click.option("--no-arxiv", is_flag=True, help="Do not ask arXiv for categories, comments, journal ref and DOI.")
@click.option("--no-progress", is_flag=True, help="Do not draw the progress bar.")
@click.pass_context
@friendly
def fetch(
    ctx: click.Context,
    day: date | None,
    since: date | None,
    until: date | None,
    ids: tuple[str, ...],
    week: str | None,
    month: str | None,
    category: str | None,
    limit: int,
    no_arxiv: bool,
    no_progress: bool,
) -> None:
    """Store Hugging Face daily lists, enriched from arXiv, without posting (backfill with --since); or single
    papers (--id), a week's or month's list (--week, --month), an arXiv category's newest papers (--category).
    Safe to repeat."""
    from bot.ingest import FetchFailure
    from bot.sources.arxiv import ArxivClient
    from bot.sources.hf import HFClient

    request = _fetch_request(
        day=day,
        since=since,
        until=until,
        ids=ids,
        week=week,
        month=month,
        category=category,
        limit=limit,
        no_arxiv=no_arxiv,
    )
    settings = settings_from(ctx)
    with ExitStack() as stack:
        client = stack.enter_context(HFClient(settings))
        # arXiv is optional here: one retry, then the papers are stored without it (and enriched next time).
        wanted = category is not None or (settings.arxiv_enrich and not no_arxiv)
        arxiv = stack.enter_context(ArxivClient(settings, retries=1)) if wanted else None
        days = _planned_days(request, client)
        engine = open_database(settings)
        try:
            report = _fetch(request, client, arxiv, sessions=make_sessions(engine), days=days, progress=not no_progress)
        except (FetchFailure, ValueError) as exc:  # ValueError: a week or month spelt wrong
            raise Failure(str(exc)) from None
        finally:
            engine.dispose()
    click.echo(report.summary())
    if request.paper_ids and len(report.missing) == len(request.paper_ids):
        raise Failure(f"no paper found for {', '.join(report.missing)}")


@dataclass(frozen=True)
class _FetchRequest:
    """What one `paperbot fetch` asks for, its flags checked: a run of days, papers by id, a week, a month or an
    arXiv category."""

    day: date | None
    since: date | None
    until: date | None
    paper_ids: list[str]
    week: str | None
    month: str | None
    category: str | None
    limit: int

    @property
    def by_day(self) -> bool:
        """Whether it asks for Hugging Face daily lists (the default)."""
        return not (self.paper_ids or self.week or self.month or self.category)


def _fetch_request(
    *,
    day: date | None,
    since: date | None,
    until: date | None,
    ids: tuple[str, ...],
    week: str | None,
    month: str | None,
    category: str | None,
    limit: int,
    no_arxiv: bool,
) -> _FetchRequest:
    """The flags of `fetch` as one request, or a Failure naming the flags that cannot go together or the value
    that is not an id or a category."""
    given = {
        "--date/--since/--until": day or since or until,
        "--id": ids,
        "--week": week,
        "--month": month,
        "--category": category,
    }
    chosen = [name for name, value in given.items() if value]
    if len(chosen) > 1:
        raise Failure(f"give one of {', '.join(chosen)}, not several")
    if category and no_arxiv:
        raise Failure("--category asks arXiv itself; drop --no-arxiv")
    if category and not CATEGORY.fullmatch(category):
        raise Failure(f"--category {category!r} is not an arXiv category; write it like cs.CL, hep-th or math.GT")
    paper_ids = [_paper_id(text) for text in ids]
    return _FetchRequest(day, since, until, paper_ids, week, month, category, limit)


def _planned_days(request: _FetchRequest, client: HFClient) -> list[date]:
    """The daily lists a by-day request means (asking Hugging Face for its newest complete one only then)."""
    from bot.ingest import plan_days

    if not request.by_day:
        return []
    try:
        return plan_days(day=request.day, since=request.since, until=request.until, newest=client.newest_complete_day())
    except ValueError as exc:
        raise Failure(str(exc)) from None


def _fetch(
    request: _FetchRequest,
    client: HFClient,
    arxiv: ArxivClient | None,
    *,
    sessions: sessionmaker[Session],
    days: list[date],
    progress: bool,
) -> FetchReport:
    """Fetch and store what `request` asks for, by the one bot.ingest function that does that kind."""
    from bot.ingest import fetch_category, fetch_days, fetch_papers, fetch_period

    if request.paper_ids:
        return fetch_papers(client, sessions=sessions, ids=request.paper_ids, arxiv=arxiv)
    if request.week or request.month:
        return fetch_period(client, sessions=sessions, week=request.week, month=request.month, arxiv=arxiv)
    if request.category and arxiv is not None:
        return fetch_category(
            arxiv, sessions=sessions, category=request.category, limit=request.limit, progress=progress
        )
    return fetch_days(client, sessions=sessions, days=days, arxiv=arxiv, progress=progress)


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "bibtex"]),
    default="json",
    show_default=True,
    help="json (an array, one object per paper), csv (one row per paper) or bibtex (one entry per paper).",
)
@click.option("--team", metavar="T", help="Only this workspace's posts (a team id such as T0001).")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="C",
    help="Only posts in this channel (a channel id; repeat for several).",
)
@click.option(
    "--since",
    type=DATE,
    help="Only posts made on or after this day (in PAPERBOT_TIMEZONE).",
)
@click.option(
    "--min-votes",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Only papers at least this many people voted for.",
)
@click.option(
    "--public-only",
    is_flag=True,
    help="Only posts in channels known to be public (a channel never checked counts as private); default: private "
    "channels too.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (replaced only when the export is complete); default: standard output.",
)
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="Papers read per round of database queries.",
)
@click.pass_context
@friendly
def export_command(
    ctx: click.Context,
    fmt: str,
    team: str | None,
    channels: tuple[str, ...],
    since: date | None,
    min_votes: int,
    public_only: bool,
    output: Path | None,
    batch_size: int,
) -> None:
    """Export what the team read, voted on and discussed: one record per paper posted, shared or voted on,
    papers in the order of their first post. Run by an operator who holds the database: private channels are
    included unless --public-only."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.export import ExportOptions, RefusedOutput, atomic_file, write_export

    if output is not None and not output.parent.is_dir():
        raise Failure(f"cannot write {output}: there is no directory {output.parent}")
    options = ExportOptions(
        fmt=fmt,
        team_id=team,
        channel_ids=tuple(c.lstrip("#") for c in channels),
        since=since,
        min_votes=min_votes,
        public_only=public_only,
    )
    settings = settings_from(ctx)
    engine = open_database(settings)
    sessions = make_sessions(engine)

    def write_to(out: TextIO) -> int:
        return write_export(
            sessions, options, out, vote_emoji=settings.vote_emoji, timezone=settings.timezone, batch=batch_size
        )

    try:
        if output is None:
            write_to(sys.stdout)
            return
        with atomic_file(output) as out:
            count = write_to(out)
    except BrokenPipeError:  # the reader went away (`| head`): main() ends quietly
        raise
    except RefusedOutput as exc:
        raise Failure(f"cannot write {output}: {exc}") from None
    except (SQLAlchemyError, OSError, ValueError) as exc:
        kept = f"; {output} was left as it was" if output is not None else ""
        raise Failure(f"export failed: {first_line(exc)}{kept}") from None
    finally:
        engine.dispose()
    click.echo(f"wrote {count:,} paper{'' if count == 1 else 's'} to {output} ({fmt})")


CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]{2,}(?:-[A-Za-z]+)?)?")


def _paper_id(text: str) -> str:
    """The versionless id of `--id`'s value: a bare id (`2410.13732v2`, `arXiv:hep-th/9901001`) or a link."""
    from bot.links import find_arxiv_ids, normalize_arxiv_id

    parsed = normalize_arxiv_id(text)
    found = [parsed[0]] if parsed else find_arxiv_ids(text)
    if len(found) != 1:
        raise Failure(
            f"--id {text!r} is not an arXiv id or paper link; write it like 2410.13732 or"
            " https://arxiv.org/abs/2410.13732"
        )
    return found[0]
