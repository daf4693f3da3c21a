"""The digest's buttons: Save and Show details (the Home tab's are in handlers/home.py). Ack first, then one
call and a private reply on the answer pool (bot.lanes.after_ack)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import blocks, library
from bot.deps import deps_of
from bot.lanes import after_ack
from bot.lookups import learn_privacy
from storage.lookups import Viewer

NO_PAPER = "That button names no paper I can look up; try `/papers show <arXiv id or link>`."


def _clicked(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """(team, user, arXiv id) of a button click; the id is None when the button's value cannot be one (a payload
    we never built: null, a number, empty, longer than any id), so the person gets a plain answer, not silence.
    A string that names no stored paper is answered by the listener ("I don't know the paper …")."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id", "")
    value = ((body.get("actions") or [{}])[0] or {}).get("value")
    return team, user.get("id", ""), value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= 64 else None


def save_paper(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Save: put the paper on the person's reading list and tell only them."""
    ack()
    team, user, arxiv_id = _clicked(body)
    if arxiv_id is None:
        respond(response_type="ephemeral", replace_original=False, text=NO_PAPER)
        return
    deps = deps_of(context)

    def work() -> None:
        paper, added = library.save(deps.sessions, team_id=team, user_id=user, arxiv_id=arxiv_id)
        reply = blocks.save_reply(paper, added=added) if paper else blocks.unknown_paper(arxiv_id)
        respond(response_type="ephemeral", replace_original=False, **reply)

    after_ack(deps, respond, work, what="the Save button")


def show_details(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    """Show details: the whole abstract, the facts and the team's activity where the button was pressed and in
    public channels (a private channel's votes stay inside it), to the person who asked."""
    ack()
    team, user, arxiv_id = _clicked(body)
    if arxiv_id is None:
        respond(response_type="ephemeral", replace_original=False, text=NO_PAPER)
        return
    deps = deps_of(context)
    viewer = Viewer(team, (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id"))

    def work() -> None:
        learn_privacy(deps, client, team, [arxiv_id])
        view = library.details(deps.sessions, deps.settings, viewer=viewer, user_id=user, arxiv_id=arxiv_id)
        reply = (
            blocks.paper_details(view.paper, activity=view.activity, saved=view.saved)
            if view
            else blocks.unknown_paper(arxiv_id)
        )
        respond(response_type="ephemeral", replace_original=False, **reply)

    after_ack(deps, respond, work, what="the Show details button")


def register(app: App) -> None:
    """Attach the button listeners."""
    app.action(blocks.SAVE_ACTION)(save_paper)
    app.action(blocks.DETAILS_ACTION)(show_details)
