"""Slack listeners, registered per kind. Each module has one `register(app)`."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, home, lookups, mentions, messages, reactions


def register_all(app: App) -> None:
    """Attach every listener kind to the app."""
    commands.register(app)
    actions.register(app)
    lookups.register(app)
    mentions.register(app)
    home.register(app)
    reactions.register(app)
    messages.register(app)
