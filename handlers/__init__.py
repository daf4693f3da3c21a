"""Slack listeners, registered per kind. Each module has one `register(app)`."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, home, inbox, installs, lookups, mentions, messages, unfurls


def register_all(app: App) -> None:
    """Attach every listener kind to the app, the inbox (a middleware in front of them all) first."""
    inbox.register(app)
    commands.register(app)
    actions.register(app)
    lookups.register(app)
    mentions.register(app)
    home.register(app)
    messages.register(app)
    installs.register(app)
    unfurls.register(app)
