"""`paperbot inbox`: how many stored Slack events are pending, done and parked, and why each parked one was."""

from __future__ import annotations

import json

import click

from bot.cli.common import friendly, open_database, settings_from
from storage import inbox
from storage.db import make_sessions
from storage.digests import aware


@click.command("inbox")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="Parked events to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.pass_context
@friendly
def inbox_command(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Stored Slack events by state, and the parked ones (events paperbot gave up applying) with their reason."""
    engine = open_database(settings_from(ctx))
    try:
        with make_sessions(engine).begin() as session:
            counts = inbox.counts(session=session)
            parked = [
                {
                    "id": row.id,
                    "event_id": row.event_id,
                    "type": row.event_type,
                    "team": row.team_id,
                    "received_at": aware(row.received_at).isoformat(timespec="seconds"),
                    "attempts": row.attempts,
                    "reason": row.last_error or "",
                }
                for row in inbox.parked(session=session, limit=limit)
            ]
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"counts": {str(k): v for k, v in counts.items()}, "parked": parked}))
        return
    click.echo("inbox: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    for row in parked:
        click.echo(
            f"parked #{row['id']} {row['type']} {row['event_id']} (team {row['team']}, received {row['received_at']},"
            f" {row['attempts']} tries): {row['reason']}"
        )
