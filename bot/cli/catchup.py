"""`paperbot reconcile`: catch up the votes and thread replies of recent paper posts from Slack, by hand."""

from __future__ import annotations

import click

from bot.cli.common import Failure, friendly, open_database, settings_from
from storage.db import make_sessions


@click.command("reconcile")
@click.option(
    "--days",
    type=click.IntRange(1, 365),
    default=None,
    help="Paper posts of the last N days (default: PAPERBOT_RECONCILE_DAYS, 14).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
@friendly
def reconcile_command(ctx: click.Context, days: int | None, no_progress: bool) -> None:
    """Make stored reactions and replies of recent paper posts match Slack (what the bot missed while down)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from slack_sdk.errors import SlackClientError

    from bot.deps import Deps
    from bot.digest import slack_problem
    from bot.reconcile import reconcile

    settings = settings_from(ctx)
    token = settings.secret("SLACK_BOT_TOKEN")
    engine = open_database(settings)
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    bar = Progress(
        TextColumn("reconciling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("posts"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=no_progress,
    )
    try:
        with bar:
            task = bar.add_task("reconciling", total=None)
            report = reconcile(
                deps, token=token, days=days, on_post=lambda done, total: bar.update(task, completed=done, total=total)
            )
    except (SlackClientError, OSError) as exc:
        raise Failure(f"{slack_problem(settings, exc)} The run resumes where it stopped.") from None
    finally:
        deps.close()
        engine.dispose()
    click.echo(report.summary())
