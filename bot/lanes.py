"""Two lanes through Bolt, so that a person's command never waits for events or for the database.

Bolt (with `process_before_response` off, as paperbot runs it) hands every listener to one executor and, for a
command, button or view, holds the HTTP request until the listener calls `ack()` (at most 3 s). With one shared
pool, events that wait on a slow database took every thread and commands missed Slack's window. Here:

- **interactive requests** (slash commands, buttons, views, shortcuts) run their listener at once, in the thread
  that is dispatching the request: the listener only parses and acks, so the ack needs no pool thread and no
  database, and Bolt finds it already given;
- **the work after the ack** (database reads and writes, Slack calls) goes to the answer pool with `after_ack`,
  bounded in how long it may wait on the database (`storage.db.bounded`); when the database does not answer,
  the person is told so in plain words at the response URL instead of hearing nothing;
- **events** run on a pool of their own, which no command ever needs;
- **link unfurls** (`link_shared`) run on a small pool of their own too: an unfurl may wait seconds for a paper
  source, and the other events should not wait behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.deps import Deps
from storage.db import bounded
from storage.text import first_line

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

INTERACTIVE, EVENTS, UNFURLS = "interactive", "events", "unfurls"
_LANE: ContextVar[str] = ContextVar("paperbot_lane", default=EVENTS)

# Everything a person does (as opposed to an event about what happened): Bolt's payload types for them.
INTERACTIVE_TYPES = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
)

# Seconds an answer's transaction may wait on the database before it gives up: short enough that the plain
# "database is not answering" reply reaches the person within Slack's 3-second window.
ANSWER_DB_WAIT = 2.0
DB_UNAVAILABLE = "paperbot's database is not answering right now, so I cannot answer that; try again in a minute."
FAILED = "Something went wrong on paperbot's side while answering that; the log has the details."
# What a database that is down, locked or too slow raises through SQLAlchemy (a refused or reset connection, a
# lock or statement timeout, a pool with no connection to give).
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


def lane_of(body: dict[str, Any]) -> str:
    """INTERACTIVE for a slash command, button, view or shortcut; UNFURLS for a link_shared event; EVENTS for
    everything else."""
    if body.get("command") or body.get("type") in INTERACTIVE_TYPES:
        return INTERACTIVE
    event = body.get("event")
    if body.get("type") == "event_callback" and isinstance(event, dict) and event.get("type") == "link_shared":
        return UNFURLS
    return EVENTS


class Lanes(Executor):
    """Bolt's listener executor: an interactive request's listener runs inline (it only acks and hands its work
    to `after_ack`); an unfurl goes to the unfurl pool, anything else to the events pool."""

    def __init__(self, events: Executor, unfurls: Executor | None = None) -> None:
        self.events = events
        self.unfurls = unfurls or events

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        lane = _LANE.get()
        if lane == UNFURLS:
            return self.unfurls.submit(fn, *args, **kwargs)
        if lane != INTERACTIVE:
            return self.events.submit(fn, *args, **kwargs)
        done: Future[T] = Future()
        try:  # Bolt's listener wrapper catches the listener's own errors; this catches anything left
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.events.shutdown(wait=wait, cancel_futures=cancel_futures)
        if self.unfurls is not self.events:
            self.unfurls.shutdown(wait=wait, cancel_futures=cancel_futures)


class LanedApp(App):
    """Bolt's App, dispatching each request in its lane (see `Lanes`)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        token = _LANE.set(lane_of(body))
        try:
            return super().dispatch(req)
        finally:
            _LANE.reset(token)


def events_pool(threads: int = 5) -> ThreadPoolExecutor:
    """The pool events run on (Bolt's own default size)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paperbot-events")


def unfurls_pool(threads: int = 4) -> ThreadPoolExecutor:
    """The pool link unfurls run on."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paperbot-unfurls")


def after_ack(deps: Deps, respond: Callable[..., Any] | None, work: Callable[[], None], *, what: str) -> None:
    """Run `work` (what a command or button does once acked) on the answer pool, its transactions bounded to
    ANSWER_DB_WAIT. A database that does not answer becomes DB_UNAVAILABLE, and any other failure FAILED, said
    privately through `respond` (None: nowhere to say it, e.g. a Home tab button) and logged in one line."""
    deps.answer_pool.submit(_guarded, respond, work, what)


def _guarded(respond: Callable[..., Any] | None, work: Callable[[], None], what: str) -> None:
    try:
        with bounded(ANSWER_DB_WAIT):
            work()
    except DATABASE_DOWN as exc:
        log.warning("%s: the database did not answer (%s)", what, first_line(exc))
        _tell(respond, DB_UNAVAILABLE, what)
    except Exception:
        log.exception("%s failed after the ack", what)
        _tell(respond, FAILED, what)


def _tell(respond: Callable[..., Any] | None, text: str, what: str) -> None:
    if respond is None:
        return
    try:
        respond(response_type="ephemeral", replace_original=False, text=text)
    except Exception as exc:  # the response URL is gone or Slack is down too: the log line above is all we have
        log.warning("%s: could not tell the person (%s)", what, first_line(exc))
