"""Catch-up after downtime: the reactions and thread replies of recent paper posts, read back from Slack.

Slack drops the events it could not deliver while paperbot was down. `reconcile` asks Slack, post by post, for
what is there now (`reactions.get` with every user; `conversations.replies`, every page) and makes the stored
state exactly that, one transaction per post (storage.reconcile has the rules that keep it from racing events).
The bot's own reactions and messages, and other bots', never count, as with events (bot.activity).

Pacing: at most PAPERBOT_RECONCILE_CALLS_PER_MINUTE calls of each method (Slack's Tier 3 is 50 a minute for
both), and a 429 makes every later call of that method wait out its Retry-After too, not just the retried one.

Resuming: the run keeps its cursor (the last post done, in id order) in `reconcile_runs`, in each post's own
transaction, so a run interrupted by a restart or Ctrl-C continues where it stopped when it is started again within
PAPERBOT_RECONCILE_EVERY_MINUTES; an older interrupted run starts over, since the posts it did may have missed
events meanwhile. Replicas each run the job: they share the run's cursor and a post done twice is harmless (the
result is Slack's state either way), so the job is idempotent rather than exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.activity import base_emoji, slack_ts
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.retrying import Sleep, scaled_sleep, transaction_retrying
from storage import votes
from storage.models import utcnow
from storage.posts import mark_post_deleted
from storage.reconcile import (
    Changes,
    PostRef,
    SlackPost,
    SlackReply,
    advance_run,
    finish_run,
    recent_posts,
    set_post_state,
    start_run,
)

log = logging.getLogger(__name__)

# Slack's answers that mean "this post cannot be read" (deleted, or the bot left or lost the channel): the post is
# skipped and the run goes on. Any other error stops the run, which resumes from its cursor next time. A post Slack
# no longer has (GONE) was deleted while the bot did not hear of it, or its delete event never reached us (Bolt
# drops the events about the bot's own messages, a deleted digest message's among them): it is marked deleted.
UNREADABLE = frozenset(
    {"message_not_found", "thread_not_found", "channel_not_found", "not_in_channel", "is_archived", "no_item_specified"}
)
# Subtypes of a message someone wrote (as handlers/messages.py counts them); bot_message never counts.
WRITTEN = frozenset({None, "thread_broadcast", "file_share", "me_message"})
GONE = "message_not_found"
REPLIES_PAGE = 200

# Process-wide on purpose, like bot.digest's: SIGTERM in `serve` (bot.scheduler's stop handlers) must reach a run
# started by a scheduler job. A stopped run ends after its current post and resumes from its cursor next time.
_stopping = threading.Event()


def request_stop() -> None:
    """Ask every reconciliation in this process to stop after its current post (and any wait to end now)."""
    _stopping.set()


def _stoppable_sleep(scale: float) -> Sleep:
    """A sleep of `seconds * scale` that a stop request cuts short."""

    def sleep(seconds: float) -> None:
        _stopping.wait(seconds * scale)

    return sleep


@dataclass
class ReconcileReport:
    """What a run did: posts reconciled and skipped, in which channels, and the changes."""

    posts: int = 0
    skipped: int = 0
    deleted: int = 0  # of the skipped: posts Slack no longer has, marked deleted
    channels: set[str] = field(default_factory=set)
    resumed: bool = False
    changes: Changes = field(default_factory=Changes)

    def summary(self) -> str:
        """One line: `reconciled 42 posts in 3 channels: +5 reactions, -1 reaction, +3 replies, 1 edited, 0 deleted`."""
        c = self.changes
        line = (
            f"reconciled {_n(self.posts, 'post')} in {_n(len(self.channels), 'channel')}: "
            f"+{_n(c.reactions_added, 'reaction')}, -{_n(c.reactions_removed, 'reaction')}, "
            f"+{_n(c.replies_added, 'reply', 'replies')}, {c.replies_edited} edited, {c.replies_deleted} deleted"
        )
        extra = [f"{_n(self.skipped, 'post')} Slack would not show skipped"] if self.skipped else []
        extra += [f"{_n(self.deleted, 'deleted post')} marked deleted"] if self.deleted else []
        extra += ["resumed an interrupted run"] if self.resumed else []
        return line + (f" ({'; '.join(extra)})" if extra else "")


def _n(count: int, one: str, many: str | None = None) -> str:
    """`_n(1, "reply", "replies") == "1 reply"`, `_n(3, "post") == "3 posts"`."""
    return f"{count} {one if count == 1 else many or one + 's'}"


class Pacer:
    """At most `per_minute` calls of each Slack method, and none before a 429's Retry-After has passed."""

    def __init__(self, per_minute: float, sleep: Sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 60.0 / per_minute
        self.sleep, self.clock = sleep, clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, method: str) -> None:
        """Wait for `method`'s turn, and book the next one."""
        with self._lock:
            now = self.clock()
            turn = max(now, self._next.get(method, now))
            self._next[method] = turn + self.interval
        if turn > now:
            self.sleep(turn - now)

    def hold(self, method: str, seconds: float) -> None:
        """Slack said 429: wait `seconds`, and no call of `method` goes out before then."""
        with self._lock:
            self._next[method] = max(self._next.get(method, 0.0), self.clock() + seconds)
        self.sleep(seconds)


class PacedRateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, waiting Slack's Retry-After through the Pacer (so the wait is shared and testable)."""

    def __init__(self, pacer: Pacer, max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacer = pacer

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("a 429 retry without a response")
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        value = header[0] if isinstance(header, list) and header else header
        seconds = float(value) if isinstance(value, str) and value.strip().isdigit() else 1.0
        method = request.url.rstrip("/").rsplit("/", 1)[-1]
        log.info("Slack rate-limited %s; waiting %s s (Retry-After)", method, seconds)
        self.pacer.hold(method, seconds)
        state.next_attempt_requested = True
        state.increment_current_attempt()


def reconcile_client(settings: Settings, token: str | None, pacer: Pacer) -> WebClient:
    """bot.deps' client (retrying 5xx and dropped connections; reads are safe to repeat) with the paced 429 retry."""
    client = make_client(settings, token)
    client.retry_handlers = [
        PacedRateLimitHandler(pacer) if isinstance(h, RateLimitErrorRetryHandler) else h for h in client.retry_handlers
    ]
    return client


@dataclass
class Reconciler:
    """One run's tools: the database, a paced Slack client, the bot's own user id, and the clocks."""

    deps: Deps
    client: WebClient
    pacer: Pacer
    team_id: str
    bot_user_id: str | None
    now: Callable[[], datetime] = utcnow


def reconcile(
    deps: Deps,
    *,
    token: str | None,
    days: int | None = None,
    on_post: Callable[[int, int], None] | None = None,
    sleep: Sleep | None = None,
    now: Callable[[], datetime] = utcnow,
) -> ReconcileReport:
    """Make the stored reactions and replies of the paper posts of the last `days` days (default: the setting)
    Slack's; `on_post(done, total)` after each. Raises SlackApiError when Slack refuses the run (it resumes)."""
    settings = deps.settings
    pacer = Pacer(settings.reconcile_calls_per_minute, sleep or _stoppable_sleep(settings.retry_wait_scale))
    client = reconcile_client(settings, token, pacer)
    auth = client.auth_test()
    run = Reconciler(deps, client, pacer, str(auth["team_id"]), auth.get("user_id"), now)
    return _run(run, days if days is not None else settings.reconcile_days, on_post)


def _run(run: Reconciler, days: int, on_post: Callable[[int, int], None] | None) -> ReconcileReport:
    started = run.now()
    every = run.deps.settings.reconcile_every_minutes or 30
    with run.deps.sessions.begin() as session:
        votes.remember_bot_user(session=session, team_id=run.team_id, bot_user_id=run.bot_user_id)
        begun = start_run(
            session=session, team_id=run.team_id, now=started, resume_since=started - timedelta(minutes=every)
        )
        posts = recent_posts(
            session=session, team_id=run.team_id, since=started - timedelta(days=days), after_id=begun.cursor
        )
    report = ReconcileReport(resumed=begun.resumed)
    resumed = " (resuming an interrupted run)" if begun.resumed else ""
    log.info("reconciling %d post(s) of the last %d day(s) from Slack%s", len(posts), days, resumed)
    for done, post in enumerate(posts, start=1):
        if _stopping.is_set():
            log.info("reconciliation stopped after %d of %d post(s); the next run resumes it", done - 1, len(posts))
            return report
        _one_post(run, post, report)
        if on_post is not None:
            on_post(done, len(posts))
    with run.deps.sessions.begin() as session:
        finish_run(session=session, team_id=run.team_id, now=run.now())
    log.info("%s", report.summary())
    return report


def _one_post(run: Reconciler, post: PostRef, report: ReconcileReport) -> None:
    """Read one post from Slack and store its state, with the run's cursor, in one transaction."""
    observed_at = f"{run.now().timestamp():.6f}"  # before Slack is asked: see storage.reconcile
    gone = False
    try:
        slack = read_post(run, post)
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error not in UNREADABLE:
            raise
        log.info("post %s in %s skipped: Slack says %s", post.ts, post.channel_id, error)
        slack, gone = None, error == GONE

    def store() -> Changes:
        with run.deps.sessions.begin() as session:
            changes = Changes()
            if slack is not None:
                changes = set_post_state(session=session, post=post, slack=slack, observed_at=observed_at)
            elif gone:
                mark_post_deleted(session=session, team_id=post.team_id, channel_id=post.channel_id, ts=post.ts)
            advance_run(session=session, team_id=run.team_id, post_id=post.id, now=run.now())
            return changes

    changes = transaction_retrying(sleep=scaled_sleep(run.deps.settings.retry_wait_scale))(store)
    if slack is None:
        report.skipped += 1
        report.deleted += int(gone)
        return
    report.posts += 1
    report.channels.add(post.channel_id)
    report.changes += changes
    if changes.any:
        log.debug("post %s in %s caught up from Slack: %s", post.ts, post.channel_id, changes)


def read_post(run: Reconciler, post: PostRef) -> SlackPost:
    """What Slack shows of a post now: its people's reactions and every page of its thread's people's replies."""
    run.pacer.wait("reactions.get")
    answer = run.client.reactions_get(channel=post.channel_id, timestamp=post.ts, full=True)
    reactions = {
        (user, base_emoji(str(reaction.get("name", ""))))
        for reaction in (answer.get("message") or {}).get("reactions") or []
        for user in reaction.get("users") or []
        if isinstance(user, str) and user != run.bot_user_id and reaction.get("name")
    }
    replies: dict[str, SlackReply] = {}
    cursor: str | None = None
    while True:
        run.pacer.wait("conversations.replies")
        page = run.client.conversations_replies(channel=post.channel_id, ts=post.ts, cursor=cursor, limit=REPLIES_PAGE)
        for message in page.get("messages") or []:
            if (reply := _persons_reply(message, post, run.bot_user_id)) is not None:
                replies[reply.ts] = reply
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or cursor is None:
            break
    return SlackPost(reactions=frozenset(reactions), replies=tuple(replies[ts] for ts in sorted(replies)))


def _persons_reply(message: dict[str, Any], post: PostRef, bot_user_id: str | None) -> SlackReply | None:
    """The message as a person's reply in the post's thread, or None (the post itself, a bot's, a join...)."""
    ts, user = slack_ts(message.get("ts")), message.get("user")
    if ts is None or ts == post.ts or message.get("thread_ts") != post.ts:
        return None
    if not isinstance(user, str) or not user or user == bot_user_id or message.get("bot_id"):
        return None
    if message.get("subtype") not in WRITTEN:
        return None
    edited_ts = slack_ts((message.get("edited") or {}).get("ts"))
    return SlackReply(ts=ts, user_id=user, text=str(message.get("text") or ""), edited_ts=edited_ts)
