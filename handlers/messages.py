"""Messages in a DM to the bot (message.im): a lookup, answered by handlers.mentions. Messages in channels
(message.channels, message.groups: thread replies, edits, deletes, shared links) never reach a listener: the inbox
middleware (handlers/inbox.py) stores them and the inbox's workers apply them. The listener takes every message
event, so none is answered 404 (which Slack would retry)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers import mentions


def message_posted(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A new message in a DM to the bot: a lookup to answer."""
    if event.get("channel_type") == "im":  # mentions.asked answers what a person wrote, and nothing else
        mentions.asked(event, body, context, client)


def register(app: App) -> None:
    """Attach the message listener."""
    app.event("message")(message_posted)
