"""The composition root: build the Bolt app from `Deps` and register every listener; no business logic here.

The only bot module that imports `handlers`; nothing imports this module but the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot.config import Settings, hidden_from_bolt
from bot.deps import DEPS_KEY, Deps, make_client
from bot.lanes import LanedApp, Lanes, events_pool, unfurls_pool
from handlers import register_all

log = logging.getLogger(__name__)


OAUTH_NOT_YET = (
    "SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are set, but OAuth multi-workspace installs are not "
    "supported yet: paperbot serves the one workspace of SLACK_BOT_TOKEN (unset them to silence this)"
)


def warn_if_oauth_configured(settings: Settings) -> None:
    """One warning line when OAuth credentials are configured: they are not used yet."""
    if settings.slack_client_id or settings.slack_client_secret:
        log.warning(OAUTH_NOT_YET)


def build_app(deps: Deps, *, socket_mode: bool = False) -> App:
    """The Bolt app with every listener registered and a global error handler.

    HTTP mode verifies every request's signature; Socket Mode has no signatures to verify. Bolt gets every
    setting from us, none from the environment (bot.config.hidden_from_bolt says why). Commands, buttons and
    views are acked in the request's own thread, events run on a pool of their own and link unfurls on another
    (bot.lanes), so no event ever holds up a command's ack, and a slow unfurl no other event.
    """
    settings = deps.settings
    warn_if_oauth_configured(settings)
    client = make_client(settings, settings.secret("SLACK_BOT_TOKEN"))
    with hidden_from_bolt():
        app = LanedApp(
            client=client,
            listener_executor=Lanes(events=events_pool(), unfurls=unfurls_pool()),
            # Socket Mode: an empty secret, so Bolt does not look for SLACK_SIGNING_SECRET either.
            signing_secret="" if socket_mode else settings.secret("SLACK_SIGNING_SECRET"),
            request_verification_enabled=not socket_mode,
            logger=logging.getLogger("paperbot.bolt"),
        )

    @app.middleware
    def inject_deps(context: BoltContext, next: Any) -> None:
        context[DEPS_KEY] = deps
        next()

    @app.error
    def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
        logger.exception("unhandled error in a listener (%s)", body.get("type") or body.get("command"), exc_info=error)

    register_all(app)
    return app
