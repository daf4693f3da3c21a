"""What every `paperbot` command shares: the one-line failure, Settings loaded once, the database opened and
migrated, and the Ctrl-C ending."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy import Engine

from bot.config import ConfigError, Settings, configure_logging, load_settings
from storage.db import DatabaseUrlError, make_engine, upgrade
from storage.text import first_line

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """A one-line reason on stderr and a non-zero exit."""

    def show(self, file: Any = None) -> None:
        click.echo(f"paperbot: {self.message}", err=True)


def friendly(func: F) -> F:
    """Turn configuration problems into one-line messages instead of tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, DatabaseUrlError) as exc:
            raise Failure(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def settings_from(ctx: click.Context) -> Settings:
    """The Settings of this invocation, loaded (and logging configured) by the first command that asks."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
        configure_logging(obj["settings"])
    settings: Settings = obj["settings"]
    return settings


def open_database(settings: Settings) -> Engine:
    """An engine on DATABASE_URL, migrated to the newest schema unless PAPERBOT_AUTO_MIGRATE=0."""
    engine = make_engine(settings.database_url)
    try:
        if settings.auto_migrate:
            upgrade(engine)
        else:
            engine.connect().close()
    except Exception as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise Failure(f"cannot open the database {url}: {first_line(exc)} (check DATABASE_URL)") from None
    return engine


def interrupted() -> NoReturn:
    """Ctrl-C: one line and the shell's usual status for SIGINT."""
    click.echo("paperbot: interrupted", err=True)
    sys.exit(130)
