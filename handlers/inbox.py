"""Every activity event (reactions, channel messages) goes into the durable inbox before Slack is answered.

A global middleware, after Bolt has checked the request's signature and learnt the bot's user id: an event the
inbox keeps is stored (bot.inbox.receive) and answered 200 without running any listener (the inbox's workers
apply it); when the write fails it is answered 503, which Slack retries in HTTP mode, and in Socket Mode Bolt
sends no ack for a non-200 answer, so Slack redelivers it. An activity event that asks for nothing (a file's
reaction, a channel join) is answered 200 unstored. Everything else (commands, buttons, DMs, mentions, the Home
tab, url_verification) goes on to Bolt's listeners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot import events, inbox
from bot.deps import deps_of

UNAVAILABLE = '{"error": "the event could not be stored; send it again"}'


def store_events(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> BoltResponse | None:
    """Store an activity event and answer Slack; pass anything else on to Bolt."""
    if not events.owned(body):
        next()
        return None
    if events.change_of(body) is None or inbox.receive(deps_of(context), body, context.bot_user_id):
        return BoltResponse(status=200, body="")
    return BoltResponse(status=503, body=UNAVAILABLE, headers={"content-type": "application/json"})


def register(app: App) -> None:
    """Put the inbox in front of every listener."""
    app.middleware(store_events)
