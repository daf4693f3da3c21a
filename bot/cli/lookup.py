"""`paperbot search`: the same engine and query language as `/papers search`, in the terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from bot.cli.common import Failure, friendly, open_database, settings_from
from storage.db import make_sessions


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50), help="How many papers to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the papers as JSON (one array).")
@click.pass_context
@friendly
def search_command(ctx: click.Context, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find papers by words, typos and all; filter terms (author:, since:, topic:, votes:>=N, …) may ride along."""
    from bot import lookups
    from bot.command_text import ParseError
    from bot.deps import Deps
    from bot.search.query import parse_search
    from bot.search.service import SearchService
    from bot.search.snapshot import cache_folder
    from storage.channels import local_team
    from storage.lookups import Viewer
    from storage.models import utcnow

    settings = settings_from(ctx)
    engine = open_database(settings)
    sessions = make_sessions(engine)
    parsed = parse_search(" ".join(query), today=utcnow().date(), command="paperbot search")
    if isinstance(parsed, ParseError):
        raise Failure(f"{parsed.problem} (usage: paperbot search QUERY [--limit N] [--json])")
    url = engine.url
    service = SearchService(sessions, cache=cache_folder(settings.search_cache, url.database, url.get_backend_name()))
    service.warm()  # the whole index, as `serve` keeps it; a one-off search needs it at once
    with sessions.begin() as session:
        team = local_team(session=session)
    deps = Deps(settings=settings, engine=engine, sessions=sessions)
    answer = lookups.search(
        deps,
        service,
        None,
        Viewer(team),
        parsed,
        user_id=None,
        today=utcnow().date(),
        limit=limit,
    )
    rows = [_row(found) for found in answer.found]
    if as_json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        click.echo()
    elif not rows:
        near = "; ".join(answer.suggestions) or "none"
        click.echo(f"No paper matches {' '.join(query)!r}. Nearest titles: {near}")
    for n, row in enumerate([] if as_json else rows, 1):
        click.echo(f"{n}. {row['title']} ({row['year'] or '?'}) arXiv {row['arxiv_id']}")
        click.echo(f"   {', '.join(row['authors'][:3])}{' et al.' if len(row['authors']) > 3 else ''}")
        click.echo(
            f"   HF upvotes {row['hf_upvotes'] if row['hf_upvotes'] is not None else '–'} · team votes "
            f"{row['votes']} · replies {row['replies']}"
        )


def _row(found: Any) -> dict[str, Any]:
    paper, activity = found.paper, found.activity
    day = paper.published or paper.daily_date
    return {
        "arxiv_id": paper.arxiv_id,
        "title": " ".join(paper.title.split()),
        "authors": list(paper.authors or []),
        "year": day.year if day else None,
        "hf_upvotes": paper.hf_upvotes,
        "votes": activity.votes,
        "replies": activity.replies,
    }
