"""The App Home tab: drawn when opened, and redrawn in place (views.publish) by its buttons: Mark read, Mark
unread, Remove, and the page buttons. Ack first; the work runs on the answer pool (bot.lanes.after_ack)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import blocks, library
from bot.deps import Deps, deps_of
from bot.lanes import after_ack


def publish(deps: Deps, client: WebClient, *, team_id: str, user_id: str, page: int = 0) -> None:
    """Draw the person's Home tab (page `page`) and publish it."""
    home = library.home(deps, client, team_id=team_id, user_id=user_id)
    client.views_publish(user_id=user_id, view=blocks.home_view(home, page=page))


def home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Publish the person's Home tab when they open it (not the Messages tab)."""
    if event.get("tab") != "home":
        return
    publish(deps_of(context), client, team_id=body["team_id"], user_id=event["user"])


def _clicked(body: dict[str, Any]) -> tuple[str, str, str | None, int]:
    """(team, user, the button's value or None when it cannot be an arXiv id or page, the page shown)."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id", "")
    value = ((body.get("actions") or [{}])[0] or {}).get("value")
    usable = value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= 64 else None
    return team, user.get("id", ""), usable, blocks.page_of((body.get("view") or {}).get("private_metadata"))


def _button(change: Callable[[Deps, str, str, str], object], what: str) -> Callable[..., None]:
    """A Home tab button's listener: ack, apply `change(deps, team, user, arxiv_id)` and redraw the same page
    (a value naming no paper changes nothing: the redrawn tab is the answer)."""

    def listener(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        team, user, arxiv_id, page = _clicked(body)
        deps = deps_of(context)

        def work() -> None:
            if arxiv_id is not None:
                change(deps, team, user, arxiv_id)
            publish(deps, client, team_id=team, user_id=user, page=page)

        after_ack(deps, None, work, what=what)  # the Home tab has no response URL to answer at

    return listener


remove_saved = _button(lambda d, t, u, a: library.unsave(d.sessions, team_id=t, user_id=u, arxiv_id=a), "Remove")
mark_read = _button(
    lambda d, t, u, a: library.mark_read(d.sessions, team_id=t, user_id=u, arxiv_id=a, read=True), "Mark read"
)
mark_unread = _button(
    lambda d, t, u, a: library.mark_read(d.sessions, team_id=t, user_id=u, arxiv_id=a, read=False), "Mark unread"
)


def turn_page(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Previous / More: publish the page the button names (an odd value shows the first page)."""
    ack()
    team, user, value, _ = _clicked(body)
    deps = deps_of(context)
    page = blocks.page_of(value)
    after_ack(deps, None, lambda: publish(deps, client, team_id=team, user_id=user, page=page), what="a Home tab page")


def register(app: App) -> None:
    """Attach the App Home listener and its buttons."""
    app.event("app_home_opened")(home_opened)
    app.action(blocks.UNSAVE_ACTION)(remove_saved)
    app.action(blocks.READ_ACTION)(mark_read)
    app.action(blocks.UNREAD_ACTION)(mark_unread)
    app.action(blocks.PREVIOUS_ACTION)(turn_page)
    app.action(blocks.NEXT_ACTION)(turn_page)
