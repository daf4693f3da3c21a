"""A workspace leaving: `app_uninstalled`, and `tokens_revoked` for the bot's token (bot.installs.uninstall)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot import installs, scheduler
from bot.deps import deps_of


def uninstalled(body: dict[str, Any], context: BoltContext) -> None:
    """The app was removed from the workspace: forget its tokens, stop its digests, purge per the setting."""
    _leave(body, context)


def tokens_revoked(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Tokens were revoked; only the bot's token matters (paperbot asks for no user tokens)."""
    tokens = event.get("tokens")
    if isinstance(tokens, dict) and tokens.get("bot"):
        _leave(body, context)


def _leave(body: dict[str, Any], context: BoltContext) -> None:
    team_id = context.team_id or body.get("team_id")
    if not isinstance(team_id, str) or not team_id:
        return
    deps = deps_of(context)
    installs.uninstall(deps.settings, deps.sessions, deps.installs, team_id)
    scheduler.forget_team(team_id)


def register(app: App) -> None:
    """Attach the uninstall listeners."""
    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
