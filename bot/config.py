"""paperbot's configuration: one typed Settings object, built once from the environment and `.env`.

This is the only module that reads the environment (STYLE rule 6). Everything else receives a Settings.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_serializer, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.logs import JsonFormatter
from bot.logs import RedactSecrets as RedactSecrets  # once defined here, as were SafeFormatter and redact
from bot.logs import SafeFormatter as SafeFormatter
from bot.logs import redact as redact
from storage.text import mask_url_passwords

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
DEFAULT_VOTE_EMOJI = ("+1", "thumbsup", "fire", "heart", "star", "100", "raised_hands")

# How to obtain each secret, quoted when a command needs one that is missing.
SECRET_HELP = {
    "SLACK_BOT_TOKEN": "the xoxb- token under OAuth & Permissions of your Slack app (docs/slack.md)",
    "SLACK_SIGNING_SECRET": "the Signing Secret under Basic Information of your Slack app",
    "SLACK_APP_TOKEN": "an app-level xapp- token with connections:write, under Basic Information > App-Level Tokens",
    "SLACK_CLIENT_ID": "the Client ID under Basic Information of your Slack app",
    "SLACK_CLIENT_SECRET": "the Client Secret under Basic Information of your Slack app",
}


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it and says how to fix it."""


class Settings(BaseSettings):
    """Every environment variable paperbot reads, typed. Secrets are SecretStr so they never show in reprs or
    logs; DATABASE_URL stays a plain string (every engine needs it whole) but is left out of the repr and its
    password is masked in dumps."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///paperbot.db", alias="DATABASE_URL", repr=False)
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    # OAuth installs (SLACK_CLIENT_ID + SLACK_CLIENT_SECRET): where Slack's "Add to Slack" page is, the redirect
    # URL registered with the app when a proxy changes it, and what an uninstall does to the workspace's data.
    slack_authorize_url: str = Field("https://slack.com/oauth/v2/authorize", alias="SLACK_AUTHORIZE_URL")
    slack_redirect_uri: str | None = Field(None, alias="SLACK_REDIRECT_URI")
    purge_on_uninstall: bool = Field(False, alias="PAPERBOT_PURGE_ON_UNINSTALL")
    hf_api_url: str = Field("https://huggingface.co/api/", alias="HF_API_URL")
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", alias="ARXIV_API_URL")
    digest_channel: str | None = Field(None, alias="PAPERBOT_DIGEST_CHANNEL")
    digest_time: str = Field("09:00", alias="PAPERBOT_DIGEST_TIME")
    timezone: str = Field("UTC", alias="PAPERBOT_TIMEZONE")
    digest_size: int = Field(10, ge=1, le=40, alias="PAPERBOT_DIGEST_SIZE")
    auto_migrate: bool = Field(True, alias="PAPERBOT_AUTO_MIGRATE")
    # Fill HF papers' arXiv categories, DOI and journal ref from arXiv (digest and fetch); 0 where arXiv is
    # unreachable, so no run waits for it.
    arxiv_enrich: bool = Field(True, alias="PAPERBOT_ARXIV_ENRICH")
    vote_emoji: Annotated[tuple[str, ...], NoDecode] = Field(DEFAULT_VOTE_EMOJI, alias="PAPERBOT_VOTE_EMOJI")
    http_timeout: float = Field(20.0, gt=0, alias="PAPERBOT_HTTP_TIMEOUT")
    # Multiplies every wait between retries (Hugging Face, arXiv's Retry-After, database); the tests set 0.
    # arXiv's 3-second spacing is not a retry wait and never scales.
    retry_wait_scale: float = Field(1.0, ge=0, alias="PAPERBOT_RETRY_WAIT_SCALE")
    # How often `serve` checks whether the day's personal alert DMs are due (0 turns alerts off).
    alerts_every_minutes: int = Field(30, ge=0, le=1440, alias="PAPERBOT_ALERTS_EVERY_MINUTES")
    # Catch-up from Slack (bot.reconcile): how often `serve` runs it, at start and then every N minutes (0: never in
    # `serve`, only `paperbot reconcile`), how many days of paper posts it covers, and how many calls of each Slack
    # method it makes a minute (Slack's Tier 3: 50).
    reconcile_every_minutes: int = Field(30, ge=0, le=1440, alias="PAPERBOT_RECONCILE_EVERY_MINUTES")
    reconcile_days: int = Field(14, ge=1, le=365, alias="PAPERBOT_RECONCILE_DAYS")
    reconcile_calls_per_minute: float = Field(50.0, gt=0, alias="PAPERBOT_RECONCILE_CALLS_PER_MINUTE")
    # The durable event inbox (bot/inbox.py, docs/events.md): worker threads per process; how long a worker holds
    # a row before any other may take it over; how long a failing row is retried before it is parked; how long an
    # event about a message not known yet waits for it; and the bound on the inbox write Slack's answer waits for.
    inbox_workers: int = Field(2, ge=0, le=16, alias="PAPERBOT_INBOX_WORKERS")
    inbox_lease_seconds: float = Field(30.0, gt=0, alias="PAPERBOT_INBOX_LEASE_SECONDS")
    inbox_park_after_seconds: float = Field(3600.0, gt=0, alias="PAPERBOT_INBOX_PARK_AFTER_SECONDS")
    inbox_unknown_wait_seconds: float = Field(120.0, ge=0, alias="PAPERBOT_INBOX_UNKNOWN_WAIT_SECONDS")
    inbox_write_timeout: float = Field(1.5, gt=0, le=2.5, alias="PAPERBOT_INBOX_WRITE_TIMEOUT")
    log_level: str = Field("INFO", alias="PAPERBOT_LOG_LEVEL")
    # `text` (one line per record) or `json` (one JSON object per line, with the Slack context: docs/operations.md).
    log_format: str = Field("text", alias="PAPERBOT_LOG_FORMAT")
    # A port of its own for GET /metrics (Prometheus), in Socket Mode above all (HTTP mode serves /metrics on its
    # own port anyway); 0: none.
    metrics_port: int = Field(0, ge=0, le=65535, alias="PAPERBOT_METRICS_PORT")
    # prometheus-client's multiprocess mode, for a server of several processes (docs/operations.md); paperbot
    # serve is one process, so it stays unset there.
    prometheus_multiproc_dir: str = Field("", alias="PROMETHEUS_MULTIPROC_DIR")
    # The folder where the search index is saved for the next start (docs/search.md); empty: next to a SQLite
    # database, none on PostgreSQL; `off`: rebuild at every start.
    search_cache: str = Field("", alias="PAPERBOT_SEARCH_CACHE")

    @field_validator("digest_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("log_format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        kind = value.strip().lower()
        if kind not in LOG_FORMATS:
            raise ValueError(f"{value!r} is not a log format; use text or json")
        return kind

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        check_zone(value)
        return value

    @field_validator("vote_emoji", mode="before")
    @classmethod
    def _split_emoji(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(e.strip().strip(":") for e in value.split(",") if e.strip())
        return value

    @field_validator("slack_api_url", "hf_api_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_serializer("database_url")
    def _hide_password(self, value: str) -> str:
        return mask_url_passwords(value)

    def secret(self, name: str) -> str:
        """The value of a secret by its variable name, or a ConfigError that says how to get it."""
        value = getattr(self, name.lower())
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            raise ConfigError(f"{name} is not set: put {SECRET_HELP[name]} in the environment or in .env")
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    def secret_values(self) -> list[str]:
        """The configured secrets' values, for the logs to mask wherever they show up."""
        fields = (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.slack_client_secret)
        return [field.get_secret_value() for field in fields if field is not None and field.get_secret_value()]

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)


# Variables Bolt's App reads from the environment by itself when its arguments leave them out. With
# SLACK_CLIENT_ID and SLACK_CLIENT_SECRET it switches to OAuth with file-based stores and ignores the bot token;
# with SLACK_BOT_TOKEN next to our client it warns that the token is unused. paperbot passes Bolt what it needs.
BOLT_ENVIRONMENT = ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


@contextmanager
def hidden_from_bolt() -> Iterator[None]:
    """Build Bolt's App inside this: the variables above are out of the environment meanwhile, then restored."""
    # Changing os.environ is safe here: only `serve` start-up builds an App, before any other thread could read it.
    saved = {name: os.environ.pop(name) for name in BOLT_ENVIRONMENT if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def parse_clock(value: str) -> time:
    """Parse a 24-hour clock time: `parse_clock("09:30") == time(9, 30)`."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day; write it as HH:MM, e.g. 09:00")
    return time(int(match[1]), int(match[2]))


def check_zone(value: str) -> ZoneInfo:
    """The ZoneInfo for an IANA zone name, or a ValueError that names it."""
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone; use a name like Europe/Berlin or UTC") from exc


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment and .env; keyword overrides win (used by the CLI and tests)."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = Settings.model_fields.get(str(first["loc"][0])) if first["loc"] else None
        name = (field.alias if field and field.alias else str(first["loc"][0])) if first["loc"] else "settings"
        raise ConfigError(f"{name}: {first['msg']}") from None


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    """Log to stderr at PAPERBOT_LOG_LEVEL, one line per record (text or JSON: PAPERBOT_LOG_FORMAT), secrets
    masked, on every handler."""
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request at INFO (a line per Slack, HF and arXiv call): shown at DEBUG only.
    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
        if settings.log_format == "json":
            handler.setFormatter(JsonFormatter(secrets=settings.secret_values()))
        else:
            handler.setFormatter(SafeFormatter(LOG_FORMAT, secrets=settings.secret_values()))
