"""Slack event envelopes → bot.activity (reactions, thread replies) and bot.shares (top-level messages: shares
and deleted posts): which events the inbox keeps, and the one way a kept event is applied.

`owned` says whether an Events API body is one of paperbot's activity events (a reaction, or a message in a
channel: DMs are lookups, answered by handlers/messages.py at once). `change_of` reads such a body into the
change it asks for, or None when it asks for nothing (a file's reaction, a channel join, an unfurl added to a
message): those are answered without being stored. `Change.apply` runs it. A message in a thread (a
`thread_broadcast` too) is a reply; any other is top-level.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import activity, shares
from bot.deps import Deps

REACTIONS = frozenset({"reaction_added", "reaction_removed"})

# Subtypes of a message someone (or some bot) posted; the others (joins, topic changes, ...) are not messages
# anyone wrote about a paper.
POSTED = frozenset({None, "thread_broadcast", "file_share", "bot_message", "me_message"})


@dataclass(frozen=True)
class Change:
    """What one event asks for, ready to apply to the database through bot.activity."""

    run: Callable[[Deps, activity.Delivery], activity.Outcome]

    def apply(self, deps: Deps, delivery: activity.Delivery) -> activity.Outcome:
        """Apply it (once per event id: bot.activity claims the id in the change's transaction)."""
        return self.run(deps, delivery)


def event_of(body: Any) -> dict[str, Any]:
    """The body's `event` when the body is an Events API callback, else {}."""
    if not isinstance(body, dict) or body.get("type") != "event_callback":
        return {}
    event = body.get("event")
    return event if isinstance(event, dict) else {}


def channel_of_json(raw: str) -> str | None:
    """The channel an event (an Events API body as JSON) is about, for the log context; None when it names none.

    >>> channel_of_json('{"type": "event_callback", "event": {"type": "reaction_added", "item": {"channel": "C1"}}}')
    'C1'
    """
    try:
        event = event_of(json.loads(raw))
    except ValueError:
        return None
    item = event.get("item")
    channel = event.get("channel") or (item.get("channel") if isinstance(item, dict) else None)
    return channel if isinstance(channel, str) else None


def owned(body: Any) -> bool:
    """True for the events the inbox keeps: reactions, and messages anywhere but in a DM."""
    event = event_of(body)
    kind = event.get("type")
    return kind in REACTIONS or (kind == "message" and event.get("channel_type") != "im")


def change_of(body: Any) -> Change | None:
    """The change an owned event asks for; None when it asks for nothing paperbot records."""
    event = event_of(body)
    if event.get("type") in REACTIONS:
        return _reaction(event)
    if event.get("type") != "message" or not isinstance(event.get("channel"), str) or not event["channel"]:
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edited(event)
    if subtype == "message_deleted":
        return _deleted(event)
    if subtype in POSTED:
        message = _message(event, event["channel"])
        posted = activity.message_posted if message.is_reply else shares.message_posted
        return Change(lambda deps, delivery: posted(deps, delivery, message))
    return None


def _reaction(event: dict[str, Any]) -> Change | None:
    """A reaction on a message (only paper posts count; files are no posts)."""
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return None
    if not isinstance(item.get("channel"), str) or not isinstance(item.get("ts"), str):
        return None
    if not item["channel"] or not item["ts"]:
        return None
    change = activity.ReactionChange(
        channel_id=item["channel"],
        message_ts=item["ts"],
        user_id=str(event.get("user") or ""),
        emoji=str(event.get("reaction") or ""),
        event_ts=activity.slack_ts(event.get("event_ts")),
        added=event.get("type") == "reaction_added",
    )
    return Change(lambda deps, delivery: activity.record_reaction(deps, delivery, change))


def _edited(event: dict[str, Any]) -> Change | None:
    """An edited message; changes without `edited` (an unfurl added, a thread's reply count) are no edits."""
    inner = event.get("message")
    edited = inner.get("edited") if isinstance(inner, dict) else None
    edited_ts = activity.slack_ts(edited.get("ts")) if isinstance(edited, dict) else None
    if edited_ts is None or not isinstance(inner, dict):
        return None
    message = _message(inner, event["channel"])
    if not message.is_reply:  # a link added by the edit makes it a share
        return Change(lambda deps, delivery: shares.message_edited(deps, delivery, message))
    return Change(lambda deps, delivery: activity.message_edited(deps, delivery, message, edited_ts=edited_ts))


def _deleted(event: dict[str, Any]) -> Change | None:
    """A deleted message, as it was before (`previous_message`)."""
    previous = event.get("previous_message")
    if not isinstance(previous, dict) or not previous:
        return None
    message = _message({**previous, "ts": event.get("deleted_ts") or previous.get("ts")}, event["channel"])
    deleted = activity.message_deleted if message.is_reply else shares.message_deleted
    return Change(lambda deps, delivery: deleted(deps, delivery, message))


def _message(payload: dict[str, Any], channel: str) -> activity.Message:
    """A message as one of the event's parts shows it (the event, `message` or `previous_message`)."""
    thread_ts = payload.get("thread_ts")
    user = payload.get("user")
    text = payload.get("text")
    return activity.Message(
        channel_id=channel,
        ts=str(payload.get("ts", "")),
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        user_id=user if isinstance(user, str) else None,
        text=text if isinstance(text, str) else "",
        from_bot=bool(payload.get("bot_id")) or payload.get("subtype") == "bot_message",
    )
