"""Who may change a channel's digest settings: a member of that channel, or a workspace admin or owner
(docs/privacy.md). Slack is the authority: conversations.members says who is in a channel, users.info who is an
admin; each process keeps their answers for a minute (`Answers`), so a burst of `/papers config` lines asks once.

Slack's refusal or silence never lets a change through: when neither membership nor admin rights can be
confirmed, the change is refused and the reason is said.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from storage.text import first_line

log = logging.getLogger(__name__)

KEEP_SECONDS = 60.0  # how long Slack's word on a channel's members or a person's role is trusted
KEEP_AT_MOST = 10_000  # answers kept before the expired ones are dropped
MEMBER_PAGES = 50  # conversations.members pages read at most (1,000 ids a page): 50,000 people


class Answers:
    """Slack's recent answers, by key, each kept for `KEEP_SECONDS` (thread-safe: Bolt runs listeners on a pool)."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self._keep = keep_seconds
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, ...], tuple[float, Any]] = {}

    def get(self, key: tuple[str, ...]) -> Any | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None or found[0] < time.monotonic():
                self._kept.pop(key, None)
                return None
            return found[1]

    def put(self, key: tuple[str, ...], value: Any) -> None:
        with self._lock:
            now = time.monotonic()
            if len(self._kept) >= KEEP_AT_MOST:  # a workspace's people and channels; expired ones go first
                self._kept = {k: kept for k, kept in self._kept.items() if kept[0] >= now}
            self._kept[key] = (now + self._keep, value)


@dataclass(frozen=True)
class Decision:
    """Whether the person may change the channel's settings, and as what (`member`, `admin`), or why not."""

    allowed: bool
    role: str = ""
    reason: str = ""


def may_configure(client: WebClient, answers: Answers, *, team_id: str, channel_id: str, user_id: str) -> Decision:
    """A member of the channel may change its settings; so may a workspace admin or owner who is not."""
    members, member_problem = _members(client, answers, team_id, channel_id)
    if members is not None and user_id in members:
        return Decision(True, "member")
    admin, admin_problem = _is_admin(client, answers, team_id, user_id)
    if admin:
        return Decision(True, "admin")
    if members is None or admin is None:
        problem = member_problem or admin_problem
        return Decision(False, reason=f"I could not check that you are a member of <#{channel_id}> ({problem})")
    return Decision(False, reason=f"Only members of <#{channel_id}> and workspace admins can change its digest")


def is_member(client: WebClient, answers: Answers, *, team_id: str, channel_id: str, user_id: str) -> bool:
    """Whether Slack says the person is in the channel (False when it will not say: nothing private leaks)."""
    members, _ = _members(client, answers, team_id, channel_id)
    return members is not None and user_id in members


def _members(client: WebClient, answers: Answers, team_id: str, channel_id: str) -> tuple[frozenset[str] | None, str]:
    """The channel's member ids (None and Slack's reason when it will not say)."""
    key = ("members", team_id, channel_id)
    if (known := answers.get(key)) is not None:
        return known, ""
    found: set[str] = set()
    cursor = None
    try:
        for _ in range(MEMBER_PAGES):
            page = client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
            found.update(str(m) for m in page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("cannot list the members of %s: %s", channel_id, first_line(exc))
        return None, slack_reason(exc)
    members = frozenset(found)
    answers.put(key, members)
    return members, ""


def _is_admin(client: WebClient, answers: Answers, team_id: str, user_id: str) -> tuple[bool | None, str]:
    """Whether the person is a workspace admin or owner (None and Slack's reason when it will not say)."""
    key = ("admin", team_id, user_id)
    if (known := answers.get(key)) is not None:
        return bool(known), ""
    try:
        user = client.users_info(user=user_id)["user"]
    except (SlackApiError, SlackClientError, OSError, KeyError, TypeError) as exc:
        log.info("cannot tell whether %s is an admin: %s", user_id, first_line(exc))
        return None, slack_reason(exc)
    admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
    answers.put(key, admin)
    return admin, ""


def slack_reason(exc: BaseException) -> str:
    """Slack's error code (`channel_not_found`), or that Slack could not be reached."""
    if isinstance(exc, SlackApiError):
        return f"Slack said {exc.response.get('error') or 'no'}"
    return "Slack could not be reached"
