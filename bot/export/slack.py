"""`/papers export`: its words parsed, and the file built and uploaded to the channel (or the caller's DM)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.deps import Deps
from bot.export.collect import write_export
from bot.export.records import EXTENSIONS, FORMATS, ExportOptions
from bot.lookups import learn_privacy
from storage.text import first_line


class ExportUsage(ValueError):
    """A `/papers export` argument it cannot take; the message names it."""


@dataclass(frozen=True)
class SlackRequest:
    """`/papers export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]`, parsed."""

    fmt: str = "json"
    since: date | None = None
    min_votes: int = 0
    all_channels: bool = False


_OPTION_NAMES = {"fmt": "a format", "since": "`since:`", "min_votes": "`min-votes:`", "all_channels": "`all`"}


def parse_command(args: str) -> SlackRequest:
    """The words after `/papers export`, in any order, each at most once:
    `parse_command("csv since:2025-11-01") == SlackRequest(fmt="csv", since=date(2025, 11, 1))`."""
    values: dict[str, Any] = {}
    for word in args.split():
        name, value = _option(word)
        if name in values:
            raise ExportUsage(f"Give {_OPTION_NAMES[name]} once; `{word}` repeats it.")
        values[name] = value
    return SlackRequest(**values)


def _option(word: str) -> tuple[str, Any]:
    lower = word.lower()
    if lower in FORMATS:
        return "fmt", lower
    if lower == "all":
        return "all_channels", True
    key, colon, value = lower.partition(":")
    if colon and key == "since":
        try:
            return "since", date.fromisoformat(value)
        except ValueError:
            raise ExportUsage(f"`since:` takes a date written YYYY-MM-DD, not `{word[6:]}`.") from None
    if colon and key in ("min-votes", "min_votes"):
        if not (value.isascii() and value.isdigit()):  # "²".isdigit() is True, but int() refuses it
            raise ExportUsage(f"`min-votes:` takes a whole number from 0 up, not `{word[len(key) + 1 :]}`.")
        return "min_votes", int(value)
    raise ExportUsage(f"`{word}` is not an export format ({', '.join(FORMATS)}) or option.")


@dataclass(frozen=True)
class SlackExport:
    """What `/papers export` did: how many papers, the file, and where it went (`channel`, `dm`, `nowhere`
    when both uploads failed, `empty` when nothing matched and nothing was uploaded)."""

    count: int
    fmt: str
    filename: str
    where: str
    error: str | None = None


def export_filename(fmt: str, *, scope: str, today: date) -> str:
    """`export_filename("bibtex", scope="C0001", today=date(2025, 11, 30)) == "paperbot-C0001-2025-11-30.bib"`."""
    return f"paperbot-{re.sub(r'[^A-Za-z0-9_-]', '', scope)}-{today.isoformat()}.{EXTENSIONS[fmt]}"


def export_to_slack(
    deps: Deps, client: WebClient, *, team_id: str, channel_id: str, user_id: str, request: SlackRequest, comment: str
) -> SlackExport:
    """Export the team's papers (this channel's, or with `all` the workspace's public channels' and this
    channel's: a private channel's discussion never leaves it) and upload the file to the channel; if Slack
    refuses that (e.g. the bot is not a member), to the person in a DM. The file is built in memory: slack_sdk
    reads an upload whole anyway."""
    settings = deps.settings
    if request.all_channels:  # a channel whose privacy is not known yet would count as private: ask Slack first
        learn_privacy(deps, client, team_id, None)
    options = ExportOptions(
        fmt=request.fmt,
        team_id=team_id,
        since=request.since,
        min_votes=request.min_votes,
        channel_ids=() if request.all_channels else (channel_id,),
        public_only=request.all_channels,
        here=channel_id,
    )
    buffer = io.StringIO()
    count = write_export(deps.sessions, options, buffer, vote_emoji=settings.vote_emoji, timezone=settings.timezone)
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    filename = export_filename(request.fmt, scope=team_id if request.all_channels else channel_id, today=today)
    if count == 0:
        return SlackExport(count, request.fmt, filename, "empty")
    title = f"paperbot export: {count} paper{'' if count == 1 else 's'}"

    def upload(channel: str) -> None:
        client.files_upload_v2(
            channel=channel, content=buffer.getvalue(), filename=filename, title=title, initial_comment=comment
        )

    try:
        upload(channel_id)
        return SlackExport(count, request.fmt, filename, "channel")
    except (SlackClientError, OSError) as exc:
        refused = _slack_error(exc)
    try:
        upload(client.conversations_open(users=user_id)["channel"]["id"])
        return SlackExport(count, request.fmt, filename, "dm", refused)
    except (SlackClientError, OSError) as exc:
        return SlackExport(count, request.fmt, filename, "nowhere", f"{refused}; in a DM: {_slack_error(exc)}")


def _slack_error(exc: BaseException) -> str:
    """Slack's error code (`not_in_channel`), or the first line of what went wrong."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "an error")
    return first_line(exc)
