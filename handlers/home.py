"""The App Home tab: each person's reading list."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import blocks, library
from bot.deps import deps_of


def home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Publish the person's reading list when they open the Home tab (not the Messages tab)."""
    if event.get("tab") != "home":
        return
    saved = library.reading_list(deps_of(context).sessions, team_id=body["team_id"], user_id=event["user"])
    client.views_publish(user_id=event["user"], view=blocks.home_view(saved))


def register(app: App) -> None:
    """Attach the App Home listener."""
    app.event("app_home_opened")(home_opened)
