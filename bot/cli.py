"""The `paperbot` command: builds objects from Settings and starts them; no business logic here (STYLE rule 1)."""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import click
from sqlalchemy import Engine

from bot.cli_params import DATE, PORT, QuietPipeGroup, reader_went_away
from bot.config import ConfigError, Settings, configure_logging, load_settings
from storage.db import DatabaseUrlError, current_revision, make_engine, make_sessions, upgrade
from storage.text import first_line

if TYPE_CHECKING:  # imported where used: `paperbot --help` should not load Slack's SDK
    from bot.digest import DigestContext, Outcome

log = logging.getLogger("paperbot")

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """A one-line reason on stderr and a non-zero exit."""

    def show(self, file: Any = None) -> None:
        click.echo(f"paperbot: {self.message}", err=True)


def friendly(func: F) -> F:
    """Turn configuration problems into one-line messages instead of tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, DatabaseUrlError) as exc:
            raise Failure(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def settings_from(ctx: click.Context) -> Settings:
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
        configure_logging(obj["settings"])
    settings: Settings = obj["settings"]
    return settings


def open_database(settings: Settings) -> Engine:
    """An engine on DATABASE_URL, migrated to the newest schema unless PAPERBOT_AUTO_MIGRATE=0."""
    engine = make_engine(settings.database_url)
    try:
        if settings.auto_migrate:
            upgrade(engine)
        else:
            engine.connect().close()
    except Exception as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise Failure(f"cannot open the database {url}: {first_line(exc)} (check DATABASE_URL)") from None
    return engine


@click.group(cls=QuietPipeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperbot")
def cli() -> None:
    """paperbot: the Hugging Face Daily Papers as your team's Slack reading room."""


def start_bot(deps: Any, *, socket_mode: bool, scheduler: bool) -> Any:
    """Build the Bolt app and start the digest scheduler; Slack unreachable or refusing the token is one line."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    from bot.app import build_app
    from bot.digest import slack_problem

    try:
        app = build_app(deps, socket_mode=socket_mode)  # Bolt calls auth.test here
        if scheduler:
            from bot.scheduler import start_scheduler

            start_scheduler(deps=deps, client=app.client)
    except (SlackClientError, BoltError, OSError) as exc:
        raise Failure(slack_problem(deps.settings, exc)) from None
    return app


@cli.command()
@click.option(
    "--http", "http_mode", is_flag=True, help="Serve HTTP mode (POST /slack/events) even if SLACK_APP_TOKEN is set."
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=3000, show_default=True, type=PORT, help="Port to listen on (/healthz in Socket Mode too)."
)
@click.option("--no-scheduler", is_flag=True, help="Do not run the digest scheduler in this process.")
@click.pass_context
@friendly
def serve(ctx: click.Context, http_mode: bool, host: str, port: int, no_scheduler: bool) -> None:
    """Run the bot: Socket Mode when SLACK_APP_TOKEN is set, HTTP mode with --http."""
    from bot.deps import Deps
    from bot.server import HttpServer, make_wsgi, socket_mode_handler

    settings = settings_from(ctx)
    socket_mode = bool(settings.slack_app_token) and not http_mode
    if not socket_mode and not http_mode:
        raise Failure("SLACK_APP_TOKEN is not set: set it for Socket Mode, or pass --http to serve HTTP mode")
    settings.secret("SLACK_BOT_TOKEN")
    settings.secret("SLACK_APP_TOKEN" if socket_mode else "SLACK_SIGNING_SECRET")
    engine = open_database(settings)
    sockets = listen_or_fail(host, port)  # before Slack is asked anything and the scheduler starts
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    try:
        app = start_bot(deps, socket_mode=socket_mode, scheduler=not no_scheduler)
    except Failure:
        for sock in sockets:
            sock.close()
        raise
    from bot.scheduler import install_stop_handlers

    install_stop_handlers()  # SIGTERM/SIGINT: digests stop between posts and release their claims; one log line
    if socket_mode:
        health = HttpServer(make_wsgi(None, engine), host, port, threads=2, sockets=sockets).start()
        log.info("Socket Mode; health check on %s/healthz", health.url)
        socket_mode_handler(app, settings.secret("SLACK_APP_TOKEN")).start()
    else:
        HttpServer(make_wsgi(app, engine), host, port, sockets=sockets).run()


def listen_or_fail(host: str, port: int) -> list[Any]:
    """The listening sockets of `serve`, or one line saying why the address cannot be had."""
    from bot.server import ListenError, listen_sockets

    try:
        return listen_sockets(host, port)
    except ListenError as exc:
        raise Failure(str(exc)) from None


@cli.command()
@click.option("--channel", help="Channel id (default: every digest channel and PAPERBOT_DIGEST_CHANNEL).")
@click.option("--date", "day", type=DATE, help="The HF daily list to post.")
@click.option("--size", type=click.IntRange(1, 40), help="Papers per digest (overrides the channel's).")
@click.option(
    "--source",
    type=click.Choice(["hf", "sample"]),
    default="hf",
    show_default=True,
    help="Where papers come from: Hugging Face, or the bundled sample.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be posted; needs no Slack credentials.")
@click.option("--json", "as_json", is_flag=True, help="Print the Block Kit payloads as JSON.")
@click.pass_context
@friendly
def digest(
    ctx: click.Context, channel: str | None, day: Any, size: int | None, source: str, dry_run: bool, as_json: bool
) -> None:
    """Post the day's trending papers, one message per paper, exactly once per channel and date."""
    from bot.deps import Deps, make_client
    from bot.digest import DigestContext
    from bot.preview import show_outcomes

    settings = settings_from(ctx)
    # The digest's client never re-sends a message blindly (bot.digest explains why).
    client = None if dry_run else make_client(settings, settings.secret("SLACK_BOT_TOKEN"), idempotent_only=True)
    engine = open_database(settings)
    # Its own stop event: Ctrl-C stops this command's channels, not a process-wide flag.
    digest_ctx = DigestContext(
        deps=Deps(settings, engine, make_sessions(engine)), client=client, stop=threading.Event()
    )
    with first_ctrl_c_stops(digest_ctx.stop):
        outcomes = _digest_outcomes(digest_ctx, channel=channel, day=day, size=size, source=source, dry_run=dry_run)
    problem = show_outcomes(outcomes, as_json=as_json)
    if digest_ctx.stop.is_set():  # stopped by Ctrl-C between two messages; the outcome says how far it got
        interrupted()
    if problem:
        raise Failure(problem)


def _digest_outcomes(
    ctx: DigestContext, *, channel: str | None, day: date | None, size: int | None, source: str, dry_run: bool
) -> list[Outcome]:
    """`paperbot digest`: a preview per channel (dry run, no Slack needed) or the real, exactly-once post.
    Fails with one sentence when it cannot start."""
    from slack_sdk.errors import SlackClientError

    from bot.digest import PREVIEW_CHANNEL, cli_targets, preview_digest, run_channels, slack_problem
    from storage import channels as channel_store

    if dry_run:
        with ctx.sessions.begin() as session:  # no Slack credentials: the workspace we know stands in
            team = channel_store.local_team(session=session)
        targets = cli_targets(ctx, team_id=team, channel=channel) or [(team, PREVIEW_CHANNEL)]
        return [preview_digest(ctx, team_id=t, channel_id=c, day=day, size=size, source=source) for t, c in targets]
    assert ctx.client is not None
    try:
        team = str(ctx.client.auth_test()["team_id"])
        targets = cli_targets(ctx, team_id=team, channel=channel)
        if not targets:
            raise Failure("no channel to post to: pass --channel C0123456789 or set PAPERBOT_DIGEST_CHANNEL")
        return run_channels(ctx, targets, day=day, size=size, source=source, retry_failed=True, give_up=False)
    except (SlackClientError, OSError) as exc:
        raise Failure(slack_problem(ctx.settings, exc)) from None


@cli.group()
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


@cli.command("import")
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


@cli.command()
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
    day: Any,
    since: Any,
    until: Any,
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
    from contextlib import ExitStack

    from bot.ingest import FetchFailure, fetch_category, fetch_days, fetch_papers, fetch_period, plan_days
    from bot.sources.arxiv import ArxivClient
    from bot.sources.hf import HFClient

    chosen = [
        name
        for name, given in (
            ("--date/--since/--until", day or since or until),
            ("--id", ids),
            ("--week", week),
            ("--month", month),
            ("--category", category),
        )
        if given
    ]
    if len(chosen) > 1:
        raise Failure(f"give one of {', '.join(chosen)}, not several")
    if category and no_arxiv:
        raise Failure("--category asks arXiv itself; drop --no-arxiv")
    if category and not CATEGORY.fullmatch(category):
        raise Failure(f"--category {category!r} is not an arXiv category; write it like cs.CL, hep-th or math.GT")
    paper_ids = [_paper_id(text) for text in ids]
    settings = settings_from(ctx)
    with ExitStack() as stack:
        client = stack.enter_context(HFClient(settings))
        # arXiv is optional here: one retry, then the papers are stored without it (and enriched next time).
        wanted = category is not None or (settings.arxiv_enrich and not no_arxiv)
        arxiv = stack.enter_context(ArxivClient(settings, retries=1)) if wanted else None
        days: list[Any] = []
        if not (paper_ids or week or month or category):
            try:
                days = plan_days(
                    day=day,
                    since=since,
                    until=until,
                    newest=client.newest_complete_day(),
                )
            except ValueError as exc:
                raise Failure(str(exc)) from None
        engine = open_database(settings)
        try:
            sessions = make_sessions(engine)
            if paper_ids:
                report = fetch_papers(client, sessions=sessions, ids=paper_ids, arxiv=arxiv)
            elif week or month:
                report = fetch_period(client, sessions=sessions, week=week, month=month, arxiv=arxiv)
            elif category and arxiv is not None:
                report = fetch_category(
                    arxiv, sessions=sessions, category=category, limit=limit, progress=not no_progress
                )
            else:
                report = fetch_days(client, sessions=sessions, days=days, arxiv=arxiv, progress=not no_progress)
        except FetchFailure as exc:
            raise Failure(str(exc)) from None
        except ValueError as exc:  # a week or month spelt wrong
            raise Failure(str(exc)) from None
        finally:
            engine.dispose()
    click.echo(report.summary())
    if paper_ids and len(report.missing) == len(paper_ids):
        raise Failure(f"no paper found for {', '.join(report.missing)}")


@cli.command("export")
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
    since: Any,
    min_votes: int,
    output: Path | None,
    batch_size: int,
) -> None:
    """Export what the team read, voted on and discussed: one record per paper posted, shared or voted on,
    papers in the order of their first post."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.export import ExportOptions, atomic_file, write_export

    if output is not None and not output.parent.is_dir():
        raise Failure(f"cannot write {output}: there is no directory {output.parent}")
    options = ExportOptions(
        fmt=fmt,
        team_id=team,
        channel_ids=tuple(c.lstrip("#") for c in channels),
        since=since,
        min_votes=min_votes,
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


@contextmanager
def first_ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While posting, the first Ctrl-C asks the digests to stop between two messages (and release their claims)
    instead of interrupting whatever line happens to run; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():  # signals can only be handled there
        yield
        return

    def on_sigint(_signum: int, _frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted() -> NoReturn:
    """Ctrl-C: one line and the shell's usual status for SIGINT."""
    click.echo("paperbot: interrupted", err=True)
    sys.exit(130)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit 0 (also when stdout's reader went away), 1 (a Failure), 2 (a usage error)
    or 130 (Ctrl-C)."""
    # Not standalone: click's own mode turns Ctrl-C into "Aborted!" and exit 1.
    try:
        code = cli.main(args=argv, prog_name="paperbot", standalone_mode=False)
        sys.stdout.flush()  # here, so a reader that went away is noticed below and not at exit
    except BrokenPipeError:
        reader_went_away()
    except click.Abort:  # what click makes of KeyboardInterrupt (and of EOF at a prompt)
        interrupted()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Ctrl-C inside a database driver call can surface as the driver's own error, the interrupt its context.
        if not any(isinstance(e, KeyboardInterrupt) for e in _chain(exc)):
            raise
        interrupted()
    # --help and --version end in click's Exit, which non-standalone mode hands back as the exit code.
    sys.exit(code if isinstance(code, int) else 0)
