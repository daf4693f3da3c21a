"""`/papers config`: a channel's digest settings, parsed from one `<setting> <value>` and stored.

The parser is pure (examples in docstrings, tested without Slack); `apply` owns one short transaction.
The scheduler re-reads channel settings every few minutes (bot/scheduler.py), so a change reaches every replica.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from bot.config import check_zone, parse_clock
from storage.channels import get_or_create_channel, update_channel

if TYPE_CHECKING:
    from bot.app import Deps

FILTER_KINDS = ("keywords", "authors", "topics")
ON, OFF = ("on", "yes", "true", "1"), ("off", "no", "false", "0", "none")
USAGE = (
    "`/papers config <setting> <value>` — settings: `digest on|off`, `time HH:MM`, `timezone Area/City`, "
    "`size 1-40`, `min-upvotes N|off`, `weekends on|off`, `empty-notice on|off`, "
    "`keywords a, b|off`, `authors a, b|off`, `topics cs.CL, …|off`"
)
ALIASES = {
    "tz": "timezone",
    "zone": "timezone",
    "minupvotes": "min-upvotes",
    "min_upvotes": "min-upvotes",
    "empty": "empty-notice",
    "emptynotice": "empty-notice",
    "weekend": "weekends",
    "keyword": "keywords",
    "author": "authors",
    "topic": "topics",
}


class ConfigUsageError(ValueError):
    """The text was not a setting we know or its value was wrong; the message says which and how."""


def _switch(name: str, value: str) -> bool:
    if value.lower() in ON:
        return True
    if value.lower() in OFF:
        return False
    raise ConfigUsageError(f"`{name}` takes `on` or `off`, not `{value}`.")


def _number(name: str, value: str, low: int, high: int) -> int:
    # isascii: "²".isdigit() is true, but int("²") is not a number.
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise ConfigUsageError(f"`{name}` takes a whole number from {low} to {high}, not `{value}`.")
    return int(value)


def _list(value: str) -> list[str]:
    """`_list("diffusion, RL ,, agents") == ["diffusion", "RL", "agents"]`."""
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_config(args: str, *, filters: dict[str, list[str]]) -> dict[str, Any]:
    """The channel-setting changes one `/papers config` line asks for:
    `parse_config("size 5", filters={}) == {"digest_size": 5}`. Filters replace their own kind only."""
    name, _, value = args.strip().partition(" ")
    name, value = ALIASES.get(name.lower(), name.lower()), value.strip()
    if not value:
        raise ConfigUsageError(f"`{name}` needs a value." if name else "Name a setting and its value.")
    try:
        if name == "digest":
            return {"digest_enabled": _switch(name, value)}
        if name == "time":
            return {"digest_time": parse_clock(value).strftime("%H:%M")}
        if name == "timezone":
            return {"timezone": check_zone(value).key}
    except ValueError as exc:
        raise ConfigUsageError(str(exc)) from None
    if name == "size":
        return {"digest_size": _number(name, value, 1, 40)}
    if name == "min-upvotes":
        return {"min_upvotes": None if value.lower() in OFF else _number(name, value, 0, 100_000)}
    if name == "weekends":
        return {"include_weekends": _switch(name, value)}
    if name == "empty-notice":
        return {"post_empty_notice": _switch(name, value)}
    if name in FILTER_KINDS:
        chosen = [] if value.lower() in OFF else _list(value)[:50]
        return {"filters": {**{k: v for k, v in filters.items() if k != name}, **({name: chosen} if chosen else {})}}
    raise ConfigUsageError(f"I don't know the setting `{name}`.")


def apply(sessions: sessionmaker[Session], *, team_id: str, channel_id: str, args: str) -> None:
    """Parse one `/papers config` line and store it for the channel (creating its settings row if needed)."""
    with sessions.begin() as session:
        channel = get_or_create_channel(session=session, team_id=team_id, channel_id=channel_id)
        changes = parse_config(args, filters=dict(channel.filters or {}))
        update_channel(session=session, team_id=team_id, channel_id=channel_id, **changes)


def configure(deps: Deps, *, team_id: str, channel_id: str, args: str) -> tuple[str, bool]:
    """`/papers config [<setting> <value>]`: (the channel's settings after the change, True), or (what was
    wrong, False) when the line is not a setting we know; nothing is stored then."""
    from bot.digest import DigestContext, describe_channel

    if args:
        try:
            apply(deps.sessions, team_id=team_id, channel_id=channel_id, args=args)
        except ConfigUsageError as problem:
            return str(problem), False
    ctx = DigestContext(settings=deps.settings, sessions=deps.sessions)
    return describe_channel(ctx, team_id=team_id, channel_id=channel_id), True
