"""The workspaces paperbot serves when it is installed through Slack's OAuth v2 flow (multi-workspace mode).

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, `paperbot serve --http` serves `/slack/install` ("Add to Slack") and
`/slack/oauth_redirect`; each workspace that installs the app leaves its bot token in paperbot's own database,
in slack_sdk's SQLAlchemy installation store (tables created by migration 0012), and the one-time OAuth `state`
in slack_sdk's state store there too. Bolt hands every listener the token of the workspace a request comes
from; scheduled jobs ask `Installs.token(team_id)`. `uninstall` is what `app_uninstalled` and `tokens_revoked`
do: forget the workspace's tokens and, with PAPERBOT_PURGE_ON_UNINSTALL, delete its data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from storage.channels import purge_team

log = logging.getLogger(__name__)

# What the app asks a workspace for at install: exactly the bot scopes of the Slack manifests in deploy/ (a test
# compares them), each explained there.
BOT_SCOPES = (
    "commands",
    "app_mentions:read",
    "chat:write",
    "reactions:read",
    "channels:history",
    "groups:history",
    "im:write",
    "im:history",
    "files:write",
    "channels:read",
    "groups:read",
    "users:read",
    "links:read",
    "links:write",
)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # an "Add to Slack" click must come back from Slack within 10 minutes


class Installs:
    """The installation and OAuth state stores of one Slack app (SLACK_CLIENT_ID) in paperbot's database."""

    def __init__(self, client_id: str, engine: Engine) -> None:
        self.client_id = client_id
        self.store = SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        self.states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine, logger=log)
        self.engine = engine

    def token(self, team_id: str) -> str | None:
        """The bot token of the workspace's newest install, or None when it is not installed (or uninstalled)."""
        bots = self.store.bots
        query = (
            select(bots.c.bot_token)
            .where(bots.c.client_id == self.client_id, bots.c.team_id == team_id)
            .order_by(bots.c.installed_at.desc(), bots.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            token = conn.execute(query).scalar_one_or_none()
        return str(token) if token else None

    def teams(self) -> list[str]:
        """The workspaces that have the app installed now."""
        bots = self.store.bots
        query = select(bots.c.team_id).where(bots.c.client_id == self.client_id, bots.c.team_id.is_not(None))
        with self.engine.connect() as conn:
            return sorted({str(team) for team in conn.execute(query).scalars()})

    def forget(self, team_id: str) -> None:
        """Delete the workspace's installations and bot tokens (every enterprise they were recorded under)."""
        with self.engine.begin() as conn:
            for table in (self.store.installations, self.store.bots):
                conn.execute(table.delete().where(table.c.client_id == self.client_id, table.c.team_id == team_id))


def oauth_settings(settings: Settings, installs: Installs) -> OAuthSettings:
    """Bolt's OAuth flow: our scopes, paths, stores and Slack's authorize page (SLACK_AUTHORIZE_URL)."""
    return OAuthSettings(
        client_id=settings.secret("SLACK_CLIENT_ID"),
        client_secret=settings.secret("SLACK_CLIENT_SECRET"),
        scopes=list(BOT_SCOPES),
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=settings.slack_authorize_url,
        installation_store=installs.store,
        installation_store_bot_only=True,
        state_store=installs.states,
        state_expiration_seconds=STATE_SECONDS,
        logger=log,
    )


# What Slack answers for a bot token whose workspace removed the app or revoked the token.
DEAD_TOKEN = frozenset({"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"})


def token_alive(client: WebClient) -> bool:
    """False when Slack says the client's token is gone (the workspace uninstalled the app, perhaps while no
    replica was up to hear `app_uninstalled`); True otherwise, also when Slack cannot be asked right now."""
    try:
        client.auth_test()
    except SlackApiError as exc:
        return exc.response.get("error") not in DEAD_TOKEN
    except (SlackClientError, OSError):
        return True
    return True


@dataclass(frozen=True)
class Uninstalled:
    """What an uninstall did: the workspace, whether its data was purged, and the rows deleted per table."""

    team_id: str
    purged: bool
    deleted: dict[str, int]

    def summary(self) -> str:
        if not self.purged:
            return f"workspace {self.team_id} uninstalled paperbot: its tokens are deleted, its data is kept"
        rows = sum(self.deleted.values())
        return f"workspace {self.team_id} uninstalled paperbot: its tokens and {rows} rows of its data are deleted"


def uninstall(
    settings: Settings, sessions: sessionmaker[Session], installs: Installs | None, team_id: str
) -> Uninstalled:
    """Forget the workspace's tokens and, with PAPERBOT_PURGE_ON_UNINSTALL, delete everything stored for it."""
    if installs is not None:
        installs.forget(team_id)
    deleted: dict[str, int] = {}
    if settings.purge_on_uninstall:
        with sessions.begin() as session:
            deleted = purge_team(session=session, team_id=team_id)
    done = Uninstalled(team_id, settings.purge_on_uninstall, deleted)
    log.info(done.summary())
    return done
