"""Messages: in a DM to the bot (message.im), a lookup (handlers.mentions answers it); in channels
(message.channels, message.groups): thread replies under paper posts, their edits and
deletes, and paper links people share. Bolt acks events itself; every message event has a listener here, so
none is answered 404 (which Slack would retry)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import activity
from bot.deps import deps_of
from handlers import mentions

# Subtypes of a message someone (or some bot) posted; the others (joins, topic changes, ...) are not messages
# anyone wrote about a paper.
POSTED = frozenset({None, "thread_broadcast", "file_share", "bot_message", "me_message"})


def _message(payload: dict[str, Any], channel: str) -> activity.Message:
    """A message as one of the event's parts shows it (the event, `message` or `previous_message`)."""
    return activity.Message(
        channel_id=channel,
        ts=str(payload.get("ts", "")),
        thread_ts=payload.get("thread_ts"),
        user_id=payload.get("user"),
        text=payload.get("text") or "",
        from_bot=bool(payload.get("bot_id")) or payload.get("subtype") == "bot_message",
    )


def message_posted(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """A new message: in a DM to the bot, a lookup to answer; in a channel, maybe a reply in a paper's thread,
    maybe a shared paper link."""
    if event.get("subtype") not in POSTED or not event.get("channel"):
        return
    if event.get("channel_type") == "im":
        mentions.asked(event, body, context, client)
        return
    activity.message_posted(
        deps_of(context), activity.Delivery.of(body, context.bot_user_id), _message(event, event["channel"])
    )


def message_changed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """An edited message; changes without `edited` (an unfurl added, a thread's reply count) are no edits."""
    inner = event.get("message") or {}
    edited_ts = activity.slack_ts((inner.get("edited") or {}).get("ts"))
    if edited_ts is None or not event.get("channel"):
        return
    activity.message_edited(
        deps_of(context),
        activity.Delivery.of(body, context.bot_user_id),
        _message(inner, event["channel"]),
        edited_ts=edited_ts,
    )


def message_deleted(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """A deleted message, as it was before (`previous_message`)."""
    previous = event.get("previous_message")
    if not previous or not event.get("channel"):
        return
    before = {**previous, "ts": event.get("deleted_ts") or previous.get("ts")}
    activity.message_deleted(
        deps_of(context), activity.Delivery.of(body, context.bot_user_id), _message(before, event["channel"])
    )


def register(app: App) -> None:
    """Attach the message listeners; the specific subtypes first, since Bolt runs the first that matches."""
    app.event({"type": "message", "subtype": "message_changed"})(message_changed)
    app.event({"type": "message", "subtype": "message_deleted"})(message_deleted)
    app.event("message")(message_posted)
