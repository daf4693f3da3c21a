"""The digest's buttons: Save, Show details, and Remove on the Home tab. Ack first, then one call and a private
reply on the answer pool (bot.lanes.after_ack)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import blocks, library
from bot.deps import deps_of
from bot.lanes import after_ack


def _clicked(body: dict[str, Any]) -> tuple[str, str, str]:
    """(team, user, arXiv id) of a button click."""
    team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
    return team, body["user"]["id"], body["actions"][0]["value"]


def save_paper(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Save: put the paper on the person's reading list and tell only them."""
    ack()
    team, user, arxiv_id = _clicked(body)
    deps = deps_of(context)

    def work() -> None:
        paper, added = library.save(deps.sessions, team_id=team, user_id=user, arxiv_id=arxiv_id)
        reply = blocks.save_reply(paper, added=added) if paper else blocks.unknown_paper(arxiv_id)
        respond(response_type="ephemeral", replace_original=False, **reply)

    after_ack(deps, respond, work, what="the Save button")


def show_details(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Show details: the whole abstract, the facts and the team's activity, to the person who asked."""
    ack()
    team, user, arxiv_id = _clicked(body)
    deps = deps_of(context)

    def work() -> None:
        view = library.details(deps.sessions, deps.settings, team_id=team, user_id=user, arxiv_id=arxiv_id)
        reply = (
            blocks.paper_details(view.paper, activity=view.activity, saved=view.saved)
            if view
            else blocks.unknown_paper(arxiv_id)
        )
        respond(response_type="ephemeral", replace_original=False, **reply)

    after_ack(deps, respond, work, what="the Show details button")


def remove_saved(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Remove (Home tab): take the paper off the list and redraw the tab."""
    ack()
    team, user, arxiv_id = _clicked(body)
    deps = deps_of(context)

    def work() -> None:
        library.unsave(deps.sessions, team_id=team, user_id=user, arxiv_id=arxiv_id)
        saved = library.reading_list(deps.sessions, team_id=team, user_id=user)
        client.views_publish(user_id=user, view=blocks.home_view(saved))

    after_ack(deps, None, work, what="the Remove button")  # the Home tab has no response URL to answer at


def register(app: App) -> None:
    """Attach the button listeners."""
    app.action(blocks.SAVE_ACTION)(save_paper)
    app.action(blocks.DETAILS_ACTION)(show_details)
    app.action(blocks.UNSAVE_ACTION)(remove_saved)
