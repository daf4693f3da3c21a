"""The composition root: build the Bolt app from `Deps` and register every listener; no business logic here.

The only bot module that imports `handlers`; nothing imports this module but the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.config import Settings, hidden_from_bolt
from bot.deps import DEPS_KEY, Deps, make_client
from bot.installs import oauth_settings
from bot.lanes import LanedApp, Lanes, events_pool, unfurls_pool
from handlers import register_all

log = logging.getLogger(__name__)


TOKEN_UNUSED = (
    "SLACK_BOT_TOKEN is set next to SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: paperbot serves every workspace that "
    "installs it through /slack/install, each with its own token, and does not use SLACK_BOT_TOKEN"
)


def _bolt_auth(settings: Settings, deps: Deps) -> dict[str, Any]:
    """Bolt's arguments for who we are: the one workspace of SLACK_BOT_TOKEN, or OAuth installs."""
    if deps.installs is None:
        return {"client": make_client(settings, settings.secret("SLACK_BOT_TOKEN"))}
    if settings.slack_bot_token is not None:
        log.warning(TOKEN_UNUSED)
    # The OAuth flow's oauth.v2.access and auth.test go through this client, so SLACK_API_URL covers them too.
    return {"client": make_client(settings), "oauth_settings": oauth_settings(settings, deps.installs)}


def other_workspace(context: BoltContext) -> bool:
    """True for a request from a workspace other than SLACK_BOT_TOKEN's (one-workspace mode): it is acked and
    ignored, so nothing of another workspace is stored or answered with this workspace's token."""
    ours = context.authorize_result.team_id if context.authorize_result is not None else None
    return bool(ours and context.team_id and context.team_id != ours)


def build_app(deps: Deps, *, socket_mode: bool = False) -> App:
    """The Bolt app with every listener registered and a global error handler.

    HTTP mode verifies every request's signature; Socket Mode has no signatures to verify. Bolt gets every
    setting from us, none from the environment (bot.config.hidden_from_bolt says why). Commands, buttons and
    views are acked in the request's own thread, events run on a pool of their own and link unfurls on another
    (bot.lanes), so no event ever holds up a command's ack, and a slow unfurl no other event.
    """
    settings = deps.settings
    with hidden_from_bolt():
        app = LanedApp(
            **_bolt_auth(settings, deps),
            listener_executor=Lanes(events=events_pool(), unfurls=unfurls_pool()),
            # Socket Mode: an empty secret, so Bolt does not look for SLACK_SIGNING_SECRET either.
            signing_secret="" if socket_mode else settings.secret("SLACK_SIGNING_SECRET"),
            request_verification_enabled=not socket_mode,
            logger=logging.getLogger("paperbot.bolt"),
        )

    @app.middleware
    def inject_deps(context: BoltContext, next: Any) -> Any:
        if deps.installs is None and other_workspace(context):
            log.info("ignored a request from workspace %s: this paperbot serves one workspace", context.team_id)
            return BoltResponse(status=200, body="")
        context[DEPS_KEY] = deps
        return next()

    @app.error
    def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
        logger.exception("unhandled error in a listener (%s)", body.get("type") or body.get("command"), exc_info=error)

    register_all(app)
    return app
