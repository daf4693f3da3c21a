"""`/papers config`: a channel's digest settings, parsed from one `<setting> <value>` and stored.

The parser is pure (examples in docstrings, tested without Slack); `apply` owns one short transaction.
The scheduler re-reads channel settings every few minutes (bot/scheduler.py), so a change reaches every replica.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot import blocks
from bot.access import may_configure, slack_reason
from bot.blocks import recap as recap_blocks
from bot.blocks.common import escape
from bot.choose import prefs_for
from bot.config import check_zone, parse_clock
from bot.deps import Deps
from storage import channels as channel_store
from storage import digests as runs
from storage.channels import get_or_create_channel, update_channel
from storage.posts import run_posts
from storage.text import first_line

log = logging.getLogger(__name__)

FILTER_KINDS = ("keywords", "authors", "topics")
ON, OFF = ("on", "yes", "true", "1"), ("off", "no", "false", "0", "none")
USAGE = (
    "`/papers config <setting> <value>` — settings: `digest on|off`, `time HH:MM`, `timezone Area/City`, "
    "`size 1-40`, `min-upvotes N|off`, `weekends on|off`, `empty-notice on|off`, "
    "`keywords a, b|off`, `authors a, b|off`, `topics cs.CL, …|off`, `recap <day> HH:MM|off`"
)
# The on/off settings and the Channel column each one sets.
SWITCHES = {"digest": "digest_enabled", "weekends": "include_weekends", "empty-notice": "post_empty_notice"}
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


WEEKDAYS = {name: i for i, day in enumerate(recap_blocks.DAYS) for name in (day.lower(), day[:3].lower())}


def parse_recap(value: str) -> dict[str, Any]:
    """The weekly recap's day and time (in the channel's zone), or off:
    `parse_recap("Fri 17:00") == {"recap_day": 4, "recap_time": "17:00"}`."""
    if value.lower() in OFF:
        return {"recap_day": None, "recap_time": None}
    parts = value.split()
    if len(parts) != 2:
        raise ConfigUsageError("`recap` takes a day and a time, e.g. `recap friday 17:00`, or `recap off`.")
    day = WEEKDAYS.get(parts[0].lower().rstrip("s"), WEEKDAYS.get(parts[0].lower()))
    if day is None:
        raise ConfigUsageError(f"`{parts[0]}` is not a day of the week; use monday to sunday (or mon to sun).")
    return {"recap_day": day, "recap_time": parse_clock(parts[1]).strftime("%H:%M")}


def parse_config(args: str, *, filters: dict[str, list[str]]) -> dict[str, Any]:
    """The channel-setting changes one `/papers config` line asks for:
    `parse_config("size 5", filters={}) == {"digest_size": 5}`. Filters replace their own kind only."""
    name, _, value = args.strip().partition(" ")
    name, value = ALIASES.get(name.lower(), name.lower()), value.strip()
    if not value:
        raise ConfigUsageError(f"`{name}` needs a value." if name else "Name a setting and its value.")
    if name in FILTER_KINDS:
        chosen = [] if value.lower() in OFF else _list(value)[:50]
        return {"filters": {**{k: v for k, v in filters.items() if k != name}, **({name: chosen} if chosen else {})}}
    try:
        return _setting(name, value)
    except ConfigUsageError:
        raise
    except ValueError as exc:  # parse_clock and check_zone say what was wrong in a sentence of their own
        raise ConfigUsageError(str(exc)) from None


def _setting(name: str, value: str) -> dict[str, Any]:
    """The change for one setting that is not a filter, as `update_channel` takes it."""
    if name in SWITCHES:
        return {SWITCHES[name]: _switch(name, value)}
    if name == "time":
        return {"digest_time": parse_clock(value).strftime("%H:%M")}
    if name == "timezone":
        return {"timezone": check_zone(value).key}
    if name == "size":
        return {"digest_size": _number(name, value, 1, 40)}
    if name == "min-upvotes":
        return {"min_upvotes": None if value.lower() in OFF else _number(name, value, 0, 100_000)}
    if name == "recap":
        return parse_recap(value)
    raise ConfigUsageError(f"I don't know the setting `{name}`.")


def apply(
    sessions: sessionmaker[Session], *, team_id: str, channel_id: str, args: str, digest_default: bool = True
) -> dict[str, Any]:
    """Parse one `/papers config` line and store it for the channel (creating its settings row if needed); the
    changes stored. A new row made for the weekly recap keeps the digest as it was (`digest_default`)."""
    with sessions.begin() as session:
        known = channel_store.get_channel(session=session, team_id=team_id, channel_id=channel_id) is not None
        channel = get_or_create_channel(session=session, team_id=team_id, channel_id=channel_id)
        changes = parse_config(args, filters=dict(channel.filters or {}))
        stored = dict(changes)
        if not known and set(changes) <= {"recap_day", "recap_time"}:
            stored["digest_enabled"] = digest_default
        update_channel(session=session, team_id=team_id, channel_id=channel_id, **stored)
        return changes


@dataclass(frozen=True)
class ConfigReply:
    """`/papers config`'s private answer; `usage` when the line was not a setting we know (the usage follows)."""

    text: str
    usage: bool = False


def configure(deps: Deps, client: WebClient, *, team_id: str, channel_id: str, user_id: str, args: str) -> ConfigReply:
    """`/papers config [<setting> <value>]`: the channel's settings (after the change), or what was wrong. Only a
    member of the channel or a workspace admin may change them (bot.access), and every change is announced in
    the channel, naming who made it; nothing is stored for a refused or unknown line."""
    if not args:
        return ConfigReply(describe_channel(deps, team_id=team_id, channel_id=channel_id))
    decision = may_configure(client, deps.slack_answers, team_id=team_id, channel_id=channel_id, user_id=user_id)
    if not decision.allowed:
        return ConfigReply(f"{decision.reason}; nothing changed.")
    try:
        default = deps.settings.digest_channel == channel_id  # a recap alone does not turn a digest on
        changes = apply(deps.sessions, team_id=team_id, channel_id=channel_id, args=args, digest_default=default)
    except ConfigUsageError as problem:
        return ConfigReply(str(problem), usage=True)
    log.info("%s (%s) changed the digest settings of %s: %s", user_id, decision.role, channel_id, sorted(changes))
    described = describe_channel(deps, team_id=team_id, channel_id=channel_id)
    unannounced = _announce(deps, client, team_id=team_id, channel_id=channel_id, user_id=user_id, changes=changes)
    return ConfigReply(described + (f"\n{unannounced}" if unannounced else ""))


def _announce(
    deps: Deps, client: WebClient, *, team_id: str, channel_id: str, user_id: str, changes: dict[str, Any]
) -> str:
    """Tell the channel who changed what; "" when told, else a sentence for the person who changed it."""
    with deps.sessions.begin() as session:
        channel = channel_store.get_channel(session=session, team_id=team_id, channel_id=channel_id)
    prefs = prefs_for(channel, settings=deps.settings, team_id=team_id, channel_id=channel_id)
    if "recap_day" in changes:
        text = recap_blocks.recap_announcement(
            user_id=user_id, day=changes["recap_day"], at=changes["recap_time"], timezone=prefs.timezone
        )
    else:
        text = blocks.config_announcement(
            user_id=user_id, changes=changes, digest_time=prefs.digest_time, timezone=prefs.timezone
        )
    try:
        client.chat_postMessage(channel=channel_id, text=text)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("could not announce a settings change in %s: %s", channel_id, first_line(exc))
        return (
            f":warning: The change is stored, but I could not announce it in <#{channel_id}> "
            f"({escape(slack_reason(exc))}): invite me with `/invite @paperbot`, or tell the channel yourself."
        )
    return ""


def describe_channel(deps: Deps, *, team_id: str, channel_id: str) -> str:
    """This channel's digest settings and last run, as one short mrkdwn reply for `/papers digest`."""
    with deps.sessions.begin() as session:
        channel = channel_store.get_channel(session=session, team_id=team_id, channel_id=channel_id)
        last = runs.last_run(session=session, team_id=team_id, channel_id=channel_id)
        last_posts = len(run_posts(session=session, digest_run_id=last.id)) if last else 0
        last_run = blocks.LastRun(last.digest_date, last.status, last_posts, last.error) if last else None
    prefs = prefs_for(channel, settings=deps.settings, team_id=team_id, channel_id=channel_id)
    # PAPERBOT_DIGEST_CHANNEL is scheduled by default, until `/papers config digest off` stores otherwise.
    scheduled = channel.digest_enabled if channel is not None else deps.settings.digest_channel == channel_id
    recap = recap_blocks.recap_setting(
        day=channel.recap_day if channel else None, at=channel.recap_time if channel else None, timezone=prefs.timezone
    )
    return (
        blocks.digest_settings_text(
            channel_id=channel_id,
            scheduled=scheduled,
            size=prefs.size,
            digest_time=prefs.digest_time,
            timezone=prefs.timezone,
            include_weekends=prefs.include_weekends,
            min_upvotes=prefs.min_upvotes,
            filters=prefs.filters,
            post_empty_notice=prefs.post_empty_notice,
            last=last_run,
        )
        + f"\n{recap}"
    )
