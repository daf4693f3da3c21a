"""`link_shared`: a paper link posted (or being typed) anywhere in the workspace, answered with `chat.unfurl`
(bot.unfurls). Bolt acks the event itself; this listener runs on the unfurl lane (bot.lanes), never in the inbox.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import unfurls
from bot.deps import deps_of
from bot.lanes import DATABASE_DOWN
from storage.text import first_line

log = logging.getLogger(__name__)


def link_shared(body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Unfurl the event's paper links; when the database does not answer, the unfurl is skipped (one log line)."""
    try:
        unfurls.answer(deps_of(context), client, body)
    except DATABASE_DOWN as exc:
        event_id = body.get("event_id")
        log.warning("no unfurl for Slack event %s: the database did not answer (%s)", event_id, first_line(exc))


def register(app: App) -> None:
    """Attach the link_shared listener."""
    app.event("link_shared")(link_shared)
