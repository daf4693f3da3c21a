"""Build the Bolt app from Settings and a session factory; it holds no business logic (STYLE rule 1)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings, hidden_from_bolt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    """What listeners need, handed to them through Bolt's context as `context["deps"]`."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def make_client(settings: Settings, token: str | None = None, *, idempotent_only: bool = False) -> WebClient:
    """A WebClient for the configured API base that retries 429 (after Retry-After), 5xx and connection errors.

    `idempotent_only` retries 429s alone: after a 5xx or a broken connection Slack may already have posted a
    chat.postMessage, so the digest (which must not post twice) checks the channel instead of re-sending.
    """
    retry_handlers: list[RetryHandler] = [RateLimitErrorRetryHandler(max_retry_count=5)]
    if not idempotent_only:
        retry_handlers += [ConnectionErrorRetryHandler(max_retry_count=2), ServerErrorRetryHandler(max_retry_count=3)]
    return WebClient(
        token=token, base_url=settings.slack_api_url, timeout=int(settings.http_timeout), retry_handlers=retry_handlers
    )


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
    setting from us, none from the environment (bot.config.hidden_from_bolt says why).
    """
    from handlers import register_all

    settings = deps.settings
    warn_if_oauth_configured(settings)
    client = make_client(settings, settings.secret("SLACK_BOT_TOKEN"))
    with hidden_from_bolt():
        app = App(
            client=client,
            # Socket Mode: an empty secret, so Bolt does not look for SLACK_SIGNING_SECRET either.
            signing_secret="" if socket_mode else settings.secret("SLACK_SIGNING_SECRET"),
            request_verification_enabled=not socket_mode,
            logger=logging.getLogger("paperbot.bolt"),
        )

    @app.middleware
    def inject_deps(context: BoltContext, next: Any) -> None:
        context["deps"] = deps
        next()

    @app.error
    def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
        logger.exception("unhandled error in a listener (%s)", body.get("type") or body.get("command"), exc_info=error)

    register_all(app)
    return app
