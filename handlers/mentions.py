"""Where people ask besides the slash command: `@paperbot <anything /papers takes>` in a channel is answered in
the mention's thread (visible to the channel, so the lookup joins the conversation), and a DM to the bot is
answered in the DM. The same dispatcher as `/papers` answers; only where the answer goes differs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block, Option, OptionGroup
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookResponse

from bot import answers
from bot.deps import Deps, deps_of
from bot.events import POSTED
from handlers import commands

log = logging.getLogger(__name__)

# Messages a person wrote (a file attached, sent to the channel from a thread, /me): each is asking. Edits,
# deletions and bots' messages are not.
_WRITTEN = POSTED - {"bot_message"}
# The mention that starts an app_mention's text (`<@U0BOT> search x`, `<@U0BOT|paperbot>: help`).
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


class _Post:
    """Posts an answer in the thread (or the DM) it was asked in; an answer about one paper becomes a lookup post."""

    def __init__(self, deps: Deps, client: WebClient, asker: answers.Asker, thread_ts: str | None) -> None:
        self.deps, self.client, self.asker, self.thread_ts = deps, client, asker, thread_ts

    def __call__(self, payload: dict[str, Any]) -> None:
        message = {k: v for k, v in payload.items() if v is not None and k != "response_type"}
        if message.get("text") or message.get("blocks"):
            channel = str(self.asker.channel_id)
            answers.post_to_channel(self.deps, self.client, self.asker, channel, message, thread_ts=self.thread_ts)


class _ThreadAck(Ack):
    """ack() for a question asked in a message: an ack with content is posted; a bare ack posts nothing."""

    def __init__(self, post: _Post) -> None:  # Ack's own __init__ only clears `response`
        self.response = None
        self._post = post

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        response_type: str | None = None,
        options: Sequence[dict[str, Any] | Option] | None = None,
        option_groups: Sequence[dict[str, Any] | OptionGroup] | None = None,
        response_action: str | None = None,
        errors: dict[str, str] | None = None,
        view: dict[str, Any] | View | None = None,
    ) -> BoltResponse:
        self._post({"text": text, "blocks": blocks})
        return BoltResponse(status=200, body="")


class _ThreadRespond(Respond):
    """respond() for a question asked in a message: the answer is posted where it was asked."""

    def __init__(self, post: _Post) -> None:
        super().__init__(response_url=None)
        self._post = post

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        self._post({"text": text, "blocks": blocks, "metadata": metadata})
        return WebhookResponse(url="", status_code=200, body="", headers={})


def asked(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """`@paperbot <command>` in a channel, or any message in a DM to the bot: answer it where it was asked."""
    if event.get("bot_id") or event.get("subtype") not in _WRITTEN or not event.get("user") or not event.get("channel"):
        return
    deps = deps_of(context)
    team = body.get("team_id") or event.get("team") or ""
    asker = answers.Asker(team, event["channel"], event["user"])
    thread = None if event.get("channel_type") == "im" else event.get("thread_ts") or event.get("ts")
    post = _Post(deps, client, asker, thread)
    command = {
        "team_id": team,
        "channel_id": event["channel"],
        "user_id": event["user"],
        "command": "/papers",
        "text": _LEADING_MENTION.sub("", event.get("text") or "", count=1),
        "in_message": True,  # no HTTP ack to carry an answer: lookups post theirs with respond (metadata and all)
    }
    commands.papers(
        ack=_ThreadAck(post), command=command, respond=_ThreadRespond(post), context=context, client=client, logger=log
    )


def register(app: App) -> None:
    """Attach the @mention listener (DMs arrive as `message` events: handlers.messages hands them here)."""
    app.event("app_mention")(asked)
