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
- **a lookup** (`answer_in_ack`) runs on the same pool while the request's thread waits up to a second for it:
  an answer ready by then is the ack's own body (no response URL post), a later one follows at the response URL;
- **events** run on a pool of their own, which no command ever needs;
- **link unfurls** (`link_shared`) run on a small pool of their own too: an unfurl may wait seconds for a paper
  source, and the other events should not wait behind it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import metrics
from bot.command_text import Invocation, parse
from bot.deps import Deps
from bot.logs import log_context
from storage.db import bounded
from storage.text import first_line

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

INTERACTIVE, EVENTS, UNFURLS = "interactive", "events", "unfurls"
_LANE: ContextVar[str] = ContextVar("paperbot_lane", default=EVENTS)
_COMMAND: ContextVar[CommandTiming | None] = ContextVar("paperbot_command", default=None)

# Everything a person does (as opposed to an event about what happened): Bolt's payload types for them.
INTERACTIVE_TYPES = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
)

# Seconds an answer's transaction may wait on the database before it gives up: short enough that the plain
# "database is not answering" reply reaches the person within Slack's 3-second window.
ANSWER_DB_WAIT = 2.0
# Seconds a lookup's ack waits for its answer to carry it in the ack itself (`answer_in_ack`); a slower answer
# follows at the response URL. Within Slack's 3 seconds with room for the HTTP round trip.
ANSWER_IN_ACK_WAIT = 1.0
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
    to `after_ack`); an unfurl goes to the unfurl pool, anything else to the events pool, each in a copy of the
    request's context (its log context: bot.logs)."""

    def __init__(self, events: Executor, unfurls: Executor | None = None) -> None:
        self.events = events
        self.unfurls = unfurls or events

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        lane = _LANE.get()
        if lane != INTERACTIVE:
            context = contextvars.copy_context()
            pool = self.unfurls if lane == UNFURLS else self.events
            return pool.submit(lambda: context.run(fn, *args, **kwargs))
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


@dataclass
class CommandTiming:
    """A slash command on its way: which subcommand, since when, and whether its work went on after the ack (then
    `after_ack` times its end, else the dispatch does)."""

    subcommand: str
    started: float = field(default_factory=time.perf_counter)
    handed_off: bool = False
    timed: bool = False

    def done(self) -> None:
        if self.timed:
            return
        self.timed = True
        metrics.COMMAND_SECONDS.labels(self.subcommand).observe(time.perf_counter() - self.started)


def subcommand_of(body: dict[str, Any]) -> str:
    """The metrics label of a slash command's body: its subcommand (`help` for none), or `invalid`."""
    parsed = parse(str(body.get("text") or ""), command=str(body.get("command") or "/papers"))
    return parsed.name if isinstance(parsed, Invocation) else "invalid"


def log_fields(body: dict[str, Any], subcommand: str | None = None) -> dict[str, Any]:
    """The log context of a request (bot.logs): its team, channel, event id and command (`/papers search`: the
    subcommand parsed, never the text typed) or interaction (`block_actions:save`), ids only."""
    team, channel = body.get("team_id") or body.get("team"), body.get("channel_id") or body.get("channel")
    event, actions = body.get("event"), body.get("actions")
    event = event if isinstance(event, dict) else {}
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    command = None
    if body.get("command"):
        command = f"{body['command']} {subcommand or ''}".strip()
    elif body.get("type") in INTERACTIVE_TYPES:
        command = f"{body['type']}:{action.get('action_id') or body.get('callback_id') or ''}".rstrip(":")
    return {
        "team": _id(team),
        "channel": _id(channel) or _id(event.get("channel")),
        "event_id": body.get("event_id"),
        "command": command,
    }


def _id(value: Any) -> str | None:
    """A Slack id given bare or as an object with an `id`."""
    value = value.get("id") if isinstance(value, dict) else value
    return value if isinstance(value, str) else None


class LanedApp(App):
    """Bolt's App, dispatching each request in its lane (see `Lanes`), its log records naming the request's
    Slack context, a slash command's time measured (bot.metrics)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        timing = CommandTiming(subcommand_of(body)) if body.get("command") else None
        lane, command = _LANE.set(lane_of(body)), _COMMAND.set(timing)
        try:
            with log_context(**log_fields(body, timing.subcommand if timing else None)):
                return super().dispatch(req)
        finally:
            _LANE.reset(lane)
            _COMMAND.reset(command)
            if timing is not None and not timing.handed_off:
                timing.done()


def events_pool(threads: int = 5) -> ThreadPoolExecutor:
    """The pool events run on (Bolt's own default size)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paperbot-events")


def unfurls_pool(threads: int = 4) -> ThreadPoolExecutor:
    """The pool link unfurls run on."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paperbot-unfurls")


def after_ack(deps: Deps, respond: Callable[..., Any] | None, work: Callable[[], None], *, what: str) -> None:
    """Run `work` (what a command or button does once acked) on the answer pool, its transactions bounded to
    ANSWER_DB_WAIT. A database that does not answer becomes DB_UNAVAILABLE, and any other failure FAILED, said
    privately through `respond` (None: nowhere to say it, e.g. a Home tab button) and logged in one line. The
    work runs in a copy of this context: its log records name the same team, channel and command."""
    timing = _COMMAND.get()
    if timing is not None:
        timing.handed_off = True
    deps.answer_pool.submit(contextvars.copy_context().run, _guarded, respond, work, what, timing)


def _guarded(
    respond: Callable[..., Any] | None, work: Callable[[], None], what: str, timing: CommandTiming | None = None
) -> None:
    try:
        with bounded(ANSWER_DB_WAIT):
            work()
    except Exception as exc:
        _tell(respond, _failed(exc, what, "after the ack"), what)
    finally:
        if timing is not None:
            timing.done()


def answer_in_ack(
    deps: Deps,
    ack: Callable[..., Any],
    respond: Callable[..., Any],
    work: Callable[[], dict[str, Any]],
    *,
    what: str,
    wait: float | None = None,
) -> None:
    """Answer privately in the ack itself when the answer is ready within `wait` seconds (ANSWER_IN_ACK_WAIT by
    default), else ack empty and send it to the response URL when it is (`work` runs on the answer pool, bounded
    and guarded as in `after_ack`; it returns the ephemeral payload). Exactly one of the two carries the answer.

    A lookup answered from the in-memory index is ready in milliseconds: in the ack, the person sees it one
    round trip to Slack sooner, and Slack's response URL is not needed at all. A slow answer (a paper fetched
    from Hugging Face, a database that is slow or down) still acks within Slack's 3 seconds."""
    timing = _COMMAND.get()
    if timing is not None:
        timing.handed_off = True
    handoff = _Handoff(respond, what, timing)
    deps.answer_pool.submit(contextvars.copy_context().run, handoff.run, work)
    payload = handoff.wait(ANSWER_IN_ACK_WAIT if wait is None else wait)
    if payload is None:
        ack()
        return
    ack(_ack_body(payload))
    if timing is not None:
        timing.done()


class _Handoff:
    """One answer between the thread that acks and the pool thread that computes it: whichever of `wait`
    (timed out) and `run` (finished) comes second decides where the answer goes, under one lock."""

    def __init__(self, respond: Callable[..., Any], what: str, timing: CommandTiming | None) -> None:
        self._respond, self._what, self._timing = respond, what, timing
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._late = False
        self._payload: dict[str, Any] | None = None

    def run(self, work: Callable[[], dict[str, Any]]) -> None:
        payload = self._computed(work)
        with self._lock:
            if not self._late:  # the acking thread is still waiting: it takes the answer into the ack
                self._payload = payload
                self._ready.set()
                return
        try:
            self._respond(**_ephemeral(payload))
        except Exception as exc:  # the response URL is gone or Slack is down: the log line is all we have
            log.warning("%s: could not send the answer (%s)", self._what, first_line(exc))
        finally:
            if self._timing is not None:
                self._timing.done()

    def wait(self, seconds: float) -> dict[str, Any] | None:
        """The answer if it is ready within `seconds`; None means it will go to the response URL."""
        self._ready.wait(seconds)
        with self._lock:
            if self._ready.is_set():
                return self._payload
            self._late = True
            return None

    def _computed(self, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            with bounded(ANSWER_DB_WAIT):
                return work()
        except Exception as exc:
            return {"text": _failed(exc, self._what, "while answering")}


def _failed(exc: Exception, what: str, when: str) -> str:
    """Count and log a command's failure (one line for a database that does not answer, the traceback for
    anything else); returns what to tell the person."""
    if isinstance(exc, DATABASE_DOWN):
        metrics.COMMAND_FAILURES.labels(what, "database").inc()
        log.warning("%s: the database did not answer (%s)", what, first_line(exc))
        return DB_UNAVAILABLE
    metrics.COMMAND_FAILURES.labels(what, "error").inc()
    log.error("%s failed %s", what, when, exc_info=exc)
    return FAILED


def _ephemeral(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "response_type": "ephemeral", "replace_original": False}


def _ack_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload as a slash command's ack body: what Slack reads there (message metadata, meant for messages
    posted to a channel, is not)."""
    kept = {k: v for k, v in payload.items() if k in ("text", "blocks", "attachments", "unfurl_links", "unfurl_media")}
    return {**kept, "response_type": "ephemeral"}


def _tell(respond: Callable[..., Any] | None, text: str, what: str) -> None:
    if respond is None:
        return
    try:
        respond(response_type="ephemeral", replace_original=False, text=text)
    except Exception as exc:  # the response URL is gone or Slack is down too: the log line above is all we have
        log.warning("%s: could not tell the person (%s)", what, first_line(exc))
