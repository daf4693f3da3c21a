"""reaction_added / reaction_removed: people's emoji on paper posts are their votes. Bolt acks events itself."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot import activity
from bot.deps import deps_of


def reaction_changed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Record or forget one person's emoji on a message (only paper posts count; files are no posts)."""
    item = event.get("item") or {}
    if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
        return
    change = activity.ReactionChange(
        channel_id=item["channel"],
        message_ts=item["ts"],
        user_id=event.get("user", ""),
        emoji=event.get("reaction", ""),
        event_ts=activity.slack_ts(event.get("event_ts")),
        added=event.get("type") == "reaction_added",
    )
    activity.record_reaction(deps_of(context), activity.Delivery.of(body, context.bot_user_id), change)


def register(app: App) -> None:
    """Attach the reaction listeners."""
    app.event("reaction_added")(reaction_changed)
    app.event("reaction_removed")(reaction_changed)
