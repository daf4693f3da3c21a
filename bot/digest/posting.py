"""Posting a claimed run's messages: paced, one at a time, each recorded right after Slack accepts it, never
re-sent blindly (the channel's history is searched first), and a crashed run's unrecorded messages found again."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot import blocks, metrics
from bot.choose import Prefs
from bot.digest.context import DigestContext
from storage import digests as runs
from storage.models import DigestRun
from storage.papers import get_papers
from storage.posts import posted_arxiv_ids, record_post, run_posts
from storage.states import PostKind
from storage.text import first_line

log = logging.getLogger(__name__)

EVENT_TYPE = blocks.DIGEST_EVENT


HISTORY_PAGES = 5


UNCERTAIN_TRIES = 3  # sends of one message whose fate Slack left unclear (5xx, broken connection)


# A message is posted shortly after the heartbeat renewed before it: resuming reads the history up to here.
SEND_MARGIN = timedelta(minutes=10)


class LostClaim(Exception):
    """Another worker took the run over (ours looked dead); this one stops posting at once."""


class Stopped(Exception):
    """The process is shutting down (request_stop): stop between two messages."""


class Uncertain(Exception):
    """Slack may or may not have posted a message and cannot tell us now: the next attempt reconciles."""


@dataclass
class RunState:
    """A claimed run as the poster sees it: the plan, what is posted already, and the papers to post."""

    run_id: int
    day: date
    plan: list[str]
    claimed_at: datetime
    header_ts: str | None
    done: dict[str, str]
    papers: dict[str, Any]
    last_activity: datetime | None = None  # the previous worker's last heartbeat, when resuming
    sample: bool = False  # `--source sample`: the header says the papers are the bundled sample
    sent: int = 0
    skipped: int = 0  # planned papers another run posted to the channel first
    last_post: float | None = None


def load_state(ctx: DigestContext, run_id: int, last_activity: datetime | None) -> RunState:
    """The claimed run `run_id` as stored: its plan, header, the papers it posted and those it still has to."""
    with ctx.sessions.begin() as session:
        run = session.get(DigestRun, run_id, populate_existing=True)
        assert run is not None
        papers = get_papers(session=session, arxiv_ids=run.plan)
        done = run_posts(session=session, digest_run_id=run_id)
        session.expunge_all()
    return RunState(
        run_id, run.digest_date, list(run.plan), runs.aware(run.claimed_at), run.header_ts, done, papers, last_activity
    )


def post_messages(ctx: DigestContext, prefs: Prefs, state: RunState, total: int | None) -> None:
    """Post the run's header (once) and each planned paper not posted yet, recording each before the next."""
    if state.header_ts is None and (state.plan or prefs.post_empty_notice):
        header = (
            blocks.digest_header(day=state.day, count=len(state.plan), total=total, sample=state.sample)
            if state.plan
            else blocks.empty_digest(day=state.day)
        )
        header_ts = _deliver(ctx, prefs, state, header, None)
        assert header_ts is not None  # only papers are ever skipped
        with ctx.sessions.begin() as session:
            if not runs.set_header(session=session, run_id=state.run_id, worker=ctx.worker, ts=header_ts):
                raise LostClaim  # taken over while Slack took the header: the rescuer finds it by its metadata
        state.header_ts = header_ts
    for position, arxiv_id in enumerate(state.plan, 1):
        paper = state.papers.get(arxiv_id)
        if arxiv_id in state.done or paper is None:
            continue
        ts = _deliver(ctx, prefs, state, blocks.paper_message(paper, rank=position), arxiv_id)
        if ts is None:  # another run posted it to this channel after our plan was fixed
            state.skipped += 1
            continue
        # Committed right after Slack accepted it: a crash from here on never posts this paper twice.
        with ctx.sessions.begin() as session:
            _record(session, prefs, state, arxiv_id, ts)
        state.done[arxiv_id], state.sent = ts, state.sent + 1


def _deliver(
    ctx: DigestContext, prefs: Prefs, state: RunState, payload: dict[str, Any], arxiv_id: str | None
) -> str | None:
    """Post one message if the run is still ours: paced, stoppable, the lease renewed first; returns its ts,
    or None for a paper that is already posted to the channel."""
    if state.last_post is not None:
        wait = ctx.pace - (time.monotonic() - state.last_post)
        if wait > 0:
            ctx.sleep(wait)
    if ctx.stop.is_set():
        raise Stopped
    # Compare-and-swap *before* the send: a worker whose run was taken over posts nothing more.
    with ctx.sessions.begin() as session:
        if not runs.heartbeat(session=session, run_id=state.run_id, worker=ctx.worker, now=ctx.clock()):
            raise LostClaim
        # Plans exclude posted papers only when fixed: two days' runs (a resumed one and today's) can share one.
        if arxiv_id and posted_arxiv_ids(
            session=session, team_id=prefs.team_id, channel_id=prefs.channel_id, arxiv_ids=[arxiv_id]
        ):
            log.info("run %s: %s is already posted to #%s; skipped", state.run_id, arxiv_id, prefs.channel_id)
            return None
    try:
        ts = _send(ctx, prefs, state, payload, arxiv_id)
    except SlackApiError as exc:
        # Slack fetches a paper's picture itself and refuses the whole message when it cannot (`invalid_blocks`,
        # "downloading image failed"): the paper is posted without its picture rather than not at all.
        if exc.response.get("error") != "invalid_blocks" or not blocks.has_pictures(payload):
            raise
        log.warning("run %s: Slack refused %s's picture (%s); posting it without", state.run_id, arxiv_id, exc)
        ts = _send(ctx, prefs, state, blocks.without_pictures(payload), arxiv_id)
    metrics.DIGEST_MESSAGES.inc()
    state.last_post = time.monotonic()
    return ts


def _send(ctx: DigestContext, prefs: Prefs, state: RunState, payload: dict[str, Any], arxiv_id: str | None) -> str:
    """chat.postMessage once; after an answer that leaves its fate open, look before sending again."""
    assert ctx.client is not None
    for attempt in range(1, UNCERTAIN_TRIES + 1):
        try:
            # The one builder `--dry-run --json` prints too: a preview shows exactly what is sent.
            response = ctx.client.chat_postMessage(
                **blocks.digest_post(prefs.channel_id, payload, run_id=state.run_id, arxiv_id=arxiv_id)
            )
            return str(response["ts"])
        except SlackApiError as exc:
            if exc.response.status_code < 500:  # a definite no (or a 429 the client already waited out)
                raise
            problem: Exception = exc
        except OSError as exc:  # refused, reset or timed out: Slack may have posted it all the same
            problem = exc
        log.warning(
            "run %s: Slack's answer to message %s was lost (%s); checking the channel",
            state.run_id,
            arxiv_id or "header",
            first_line(problem),
        )
        found = _history(ctx, prefs, state, oldest=state.claimed_at, latest=None, strict=True)
        if (arxiv_id or "") in found:
            return found[arxiv_id or ""]
        if attempt < UNCERTAIN_TRIES:
            ctx.sleep(2.0 * attempt)
    raise Uncertain(first_line(problem))


def _history(
    ctx: DigestContext, prefs: Prefs, state: RunState, *, oldest: datetime, latest: datetime | None, strict: bool
) -> dict[str, str]:
    """This run's messages in the channel between `oldest` and `latest`: arXiv id ("" = header) -> ts.
    `strict` raises Uncertain when Slack cannot be asked; otherwise that is logged and nothing is found."""
    assert ctx.client is not None
    found: dict[str, str] = {}
    cursor = None
    since = f"{oldest.timestamp() - 60:.6f}"
    # Newest first from the run's last activity, so chatter posted after it is never paged through.
    until = f"{latest.timestamp():.6f}" if latest is not None else None
    try:
        for _ in range(HISTORY_PAGES):
            response = ctx.client.conversations_history(
                channel=prefs.channel_id,
                limit=200,
                cursor=cursor,
                oldest=since,
                latest=until,
                inclusive=True,
                include_all_metadata=True,
            )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("run") == state.run_id:
                    found["" if payload.get("header") else str(payload.get("arxiv_id"))] = message["ts"]
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except (SlackApiError, OSError) as exc:  # e.g. missing channels:history, or Slack down
        if strict:
            raise Uncertain(first_line(exc)) from exc
        log.warning("cannot read #%s history to reconcile run %s: %s", prefs.channel_id, state.run_id, first_line(exc))
    return found


def reconcile(ctx: DigestContext, prefs: Prefs, state: RunState) -> None:
    """Record this run's messages that Slack accepted but a crashed worker never recorded (by metadata)."""
    latest = None
    if state.last_activity is not None:
        latest = min(ctx.clock(), state.last_activity + SEND_MARGIN)
    _record_found(ctx, prefs, state, _history(ctx, prefs, state, oldest=state.claimed_at, latest=latest, strict=False))


def _record_found(ctx: DigestContext, prefs: Prefs, state: RunState, found: dict[str, str]) -> None:
    header = found.pop("", None)
    missing = {a: ts for a, ts in found.items() if a in state.plan and a not in state.done}
    if not missing and (header is None or state.header_ts):
        return
    with ctx.sessions.begin() as session:
        if header and not state.header_ts:
            if not runs.set_header(session=session, run_id=state.run_id, worker=ctx.worker, ts=header):
                raise LostClaim
            state.header_ts = header
        for arxiv_id, ts in missing.items():
            _record(session, prefs, state, arxiv_id, ts)
    state.done.update(missing)
    log.info("run %s: found %d unrecorded message(s) in #%s", state.run_id, len(missing), prefs.channel_id)


def _record(session: Session, prefs: Prefs, state: RunState, arxiv_id: str, ts: str) -> None:
    """Record message `ts` as the run's post of `arxiv_id` in the channel."""
    record_post(
        session=session,
        team_id=prefs.team_id,
        channel_id=prefs.channel_id,
        ts=ts,
        arxiv_id=arxiv_id,
        kind=PostKind.DIGEST,
        digest_run_id=state.run_id,
    )
