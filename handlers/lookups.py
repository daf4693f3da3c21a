"""Lookups: `/papers search|show|top|filter|help` and their buttons (Show, Share to channel, More).

A command's private answer comes in the ack itself when it is ready within a second (bot.lanes.answer_in_ack:
a search of the in-memory index is), else through `response_url`; with `--share` the command acks at once and the
answer is posted in the channel (bot.answers records one about a single paper as a `lookup` post). Buttons ack
first and hand their work to bot.lanes.after_ack.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import answers
from bot.blocks import lookup as lookup_blocks
from bot.command_text import Invocation
from bot.deps import deps_of
from bot.lanes import after_ack, answer_in_ack
from bot.links import paper_id
from storage.models import utcnow

log = logging.getLogger(__name__)

NO_PAPER = "That button names no paper."


def papers_lookup(
    ack: Ack,
    command: dict[str, Any],
    invocation: Invocation,
    respond: Respond,
    context: BoltContext,
    client: WebClient,
    **_: Any,
) -> None:
    """`/papers search|show|top|filter|help`: answered privately, in the ack itself when the answer is ready within
    a second (bot.lanes.answer_in_ack), else at the response URL; with --share, acked at once and posted to the
    channel. Asked in a message (handlers.mentions), the answer is posted where it was asked."""
    deps = deps_of(context)
    asker = answers.Asker(command["team_id"], command.get("channel_id"), command.get("user_id"), command["command"])
    what = f"/papers {invocation.name}"

    def answer() -> dict[str, Any]:
        return answers.answer(deps, deps.search, client, asker, invocation, now=utcnow())

    if not command.get("in_message") and not (invocation.share and asker.channel_id):
        answer_in_ack(deps, ack, respond, answer, what=what)
        return
    ack()

    def work() -> None:
        payload = answer()
        channel = str(asker.channel_id)
        if invocation.share and answers.shareable(payload) and _shared(deps, client, asker, channel, payload, respond):
            return
        respond(response_type="ephemeral", replace_original=False, **payload)

    after_ack(deps, respond, work, what=what)


def _shared(
    deps: Any, client: WebClient, asker: answers.Asker, channel: str, payload: dict[str, Any], respond: Respond
) -> bool:
    """Post a shared answer to the channel; False (and a private word why) when Slack refuses."""
    try:
        answers.post_to_channel(deps, client, asker, channel, payload, thread_ts=None)
        return True
    except (SlackApiError, SlackClientError, OSError) as exc:  # Slack refused (not_in_channel, ...) or was not there
        log.info("sharing to %s failed: %s", channel, exc)
        respond(
            response_type="ephemeral",
            replace_original=False,
            text="I could not post in this channel (invite me with `/invite @paperbot`); here is the answer privately.",
        )
        return False


def _clicked(body: dict[str, Any]) -> answers.Asker:
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id", "")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return answers.Asker(team, channel, user.get("id", ""))


def _value(body: dict[str, Any]) -> str:
    value = ((body.get("actions") or [{}])[0] or {}).get("value")
    return value if isinstance(value, str) else ""


def _paper(body: dict[str, Any]) -> str:
    """The arXiv id a Show or Share button carries, or "" when its value is not one (a payload we never built)."""
    return paper_id(_value(body)) or ""


def show_clicked(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Show (on a result): the paper's card, privately."""
    ack()
    deps, asker, arxiv_id = deps_of(context), _clicked(body), _paper(body)

    def work() -> None:
        if not arxiv_id:
            respond(response_type="ephemeral", replace_original=False, text=NO_PAPER)
            return
        respond(response_type="ephemeral", replace_original=False, **answers.show(deps, client, asker, arxiv_id))

    after_ack(deps, respond, work, what="the Show button")


def share_clicked(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """Share to channel: post the paper's card to the channel as a lookup post, so its votes count."""
    ack()
    deps, asker, arxiv_id = deps_of(context), _clicked(body), _paper(body)
    after_ack(deps, respond, lambda: _share(deps, client, asker, arxiv_id, respond), what="the Share button")


def _share(deps: Any, client: WebClient, asker: answers.Asker, arxiv_id: str, respond: Respond) -> None:
    if not arxiv_id or not asker.channel_id:
        respond(response_type="ephemeral", replace_original=False, text=NO_PAPER)
        return
    payload = answers.show(deps, client, asker, arxiv_id, share=True)
    if answers.lookup_paper(payload) is None:  # unknown paper: the card is an explanation, kept private
        respond(response_type="ephemeral", replace_original=False, **payload)
        return
    if _shared(deps, client, asker, str(asker.channel_id), payload, respond):
        respond(response_type="ephemeral", replace_original=False, text="Shared to the channel.")
    else:
        respond(response_type="ephemeral", replace_original=False, **payload)


def more_clicked(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient) -> None:
    """More (under filter results): the next page, in place of the one shown."""
    ack()
    deps, asker, value = deps_of(context), _clicked(body), _value(body)

    def work() -> None:
        payload = answers.more(deps, deps.search, client, asker, value, now=utcnow())
        respond(response_type="ephemeral", replace_original=True, **payload)

    after_ack(deps, respond, work, what="the More button")


def register(app: App) -> None:
    """Attach the lookup buttons (the slash command, mentions and DMs dispatch to papers_lookup)."""
    app.action(lookup_blocks.SHOW_ACTION)(show_clicked)
    app.action(lookup_blocks.SHARE_ACTION)(share_clicked)
    app.action(lookup_blocks.MORE_ACTION)(more_clicked)
