"""The daily digest: choose a channel's papers, claim the run, post a header and one message per paper, once.

Exactly once, step by step:
1. The day's papers are fetched and stored *before* the claim; the plan (ordered arXiv ids) is fixed in the
   claimed DigestRun, so whoever resumes the run posts the same list (storage.digests explains the claim).
2. Each message carries Slack message metadata
   `{event_type: "paperbot_digest", event_payload: {run, arxiv_id}}` and its Post row is committed right after
   Slack accepts it: a process killed after k of N papers leaves k posts; resuming posts the N - k left.
3. The one gap left, a crash between Slack's accept and our commit, is closed on resume: the run's own
   messages are found in `conversations.history` (between the run's claim and its last activity) by their
   metadata and recorded before anything is posted.
4. Before every message (header included) the claim's heartbeat is renewed with a compare-and-swap: a worker
   whose run was taken over stops before posting anything more, and the lease it just renewed covers the send.
5. chat.postMessage is never re-sent blindly: the digest's Slack client retries only 429s (Slack did not take
   the message). After a 5xx or a broken connection Slack may have posted it anyway, so the channel history is
   searched for it (by metadata) before sending again; if Slack cannot be asked, the claim is released and the
   next attempt reconciles.
6. `request_stop()` (SIGTERM/SIGINT in `paperbot serve`) makes every run stop between two messages and release
   its claim, so the next start resumes it at once.

Choosing the day and the papers is bot.choose's business (pure functions).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot import blocks
from bot.app import Deps, make_client
from bot.choose import Prefs, choose, newest_day, prefs_for
from bot.config import Settings, first_line
from bot.ingest import enrich_from_arxiv
from bot.sources.hf import HFClient, SourceError
from bot.sources.sample import sample_records
from storage import channels as channel_store
from storage import digests as runs
from storage.models import DigestRun, utcnow
from storage.papers import daily_papers, get_papers, upsert_papers
from storage.posts import posted_arxiv_ids, record_post, run_posts

log = logging.getLogger(__name__)

EVENT_TYPE = blocks.DIGEST_EVENT
PREVIEW_CHANNEL = "preview"  # the stand-in channel of a dry run when none is configured
PACE_SECONDS = 1.1  # chat.postMessage allows about one message per second per channel
HISTORY_PAGES = 5
UNCERTAIN_TRIES = 3  # sends of one message whose fate Slack left unclear (5xx, broken connection)
# A message is posted shortly after the heartbeat renewed before it: resuming reads the history up to here.
SEND_MARGIN = timedelta(minutes=10)
# Slack errors no retry can fix: an operator has to act, so the run is marked failed instead of retried.
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
# Slack refuses the message itself: resending the same message fails the same way, every 5 minutes for a day.
MESSAGE_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "too_many_attachments",
        "attachment_payload_limit_exceeded",
        "invalid_attachments",
        "markdown_text_conflict",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
    }
)
PERMANENT_ERRORS = CHANNEL_ERRORS | TOKEN_ERRORS | MESSAGE_ERRORS | {"missing_scope", "restricted_action"}


# ---- the day's list ---------------------------------------------------------------------------------------


@dataclass
class DayList:
    """The papers on one day's Hugging Face list, where they came from, and a note for people if needed."""

    day: date
    papers: list[Any]
    source: str  # hf | sample | database
    note: str | None = None


def _fetch_hf(settings: Settings, day: date, *, quick: bool) -> list[Any]:
    # A dry run offline should fall back to the sample in a second or two, not after a long retry ladder.
    timeout = min(settings.http_timeout, 3.0) if quick else settings.http_timeout
    with HFClient(settings, timeout=timeout, retries=0 if quick else 3) as client:
        # Stamped with the list's day: an item's own publishedAt may fall on a neighbouring UTC date.
        records = list(client.daily_records(day))
    # HF lists carry no arXiv categories, which a channel's `topics` filter matches: one quick arXiv request per
    # 100 papers fills them (and DOI, journal ref); arXiv down costs one warning line, never the digest.
    if records and settings.arxiv_enrich:
        enrich_from_arxiv(settings, records, quick=True)
    return records


def load_day(
    *, settings: Settings, sessions: sessionmaker[Session], day: date, source: str = "hf", sample_fallback: bool = False
) -> DayList:
    """The day's papers from Hugging Face (or the bundled sample); offline, the stored list, then the sample
    if `sample_fallback` (dry runs only: a real post never uses the sample unless asked)."""
    if source == "sample":
        return DayList(day, _sample(day), "sample", "Using the bundled sample papers, not live data.")
    try:
        return DayList(day, _fetch_hf(settings, day, quick=sample_fallback), "hf")
    except (SourceError, httpx.HTTPError) as exc:  # HF down or answering nonsense; a bug is not caught here
        # A dry run's friendly note already says it; a real run's log must.
        log.log(
            logging.DEBUG if sample_fallback else logging.WARNING,
            "Hugging Face daily list of %s unavailable: %s",
            day,
            first_line(exc),
        )
        detail = first_line(exc)
    reason = f"Hugging Face is unreachable at {settings.hf_api_url}"
    with sessions.begin() as session:
        stored = daily_papers(session=session, day=day)
        session.expunge_all()
    if stored:
        return DayList(day, stored, "database", f"{reason}; using the {len(stored)} papers stored for {day}.")
    if sample_fallback:
        return DayList(
            day,
            _sample(day),
            "sample",
            f"Offline: {reason}, so this preview shows the bundled sample papers (a real post never uses them).",
        )
    raise SourceError(f"{reason} ({detail}), and no papers of {day} are stored: try again later")


def _sample(day: date) -> list[Any]:
    return list(sample_records(day))


# ---- running a channel's digest ---------------------------------------------------------------------------


# Set by request_stop (SIGTERM/SIGINT in `paperbot serve`): every run of this process stops between two posts.
_stopping = threading.Event()


def request_stop() -> None:
    """Ask every digest run in this process to stop before its next message and release its claim."""
    _stopping.set()


def new_worker_id() -> str:
    """Who holds a claim: host, process and a random suffix, so every run attempt is told apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class DigestContext:
    """What a digest needs: settings, the session factory, a Slack client (None for dry runs), and the clock
    and sleep to use (injectable, so tests neither wait for pacing nor depend on the time of day)."""

    settings: Settings
    sessions: sessionmaker[Session]
    client: WebClient | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = utcnow
    pace: float = PACE_SECONDS
    worker: str = field(default_factory=new_worker_id)
    # One fetch of a day's list serves every channel of a run (several channels run in parallel, hence the lock).
    day_cache: dict[tuple[date, str], DayList] = field(default_factory=dict)
    day_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=lambda: _stopping)


@dataclass
class Outcome:
    """What a digest attempt did, for the CLI, `/papers digest now` and the scheduler's log."""

    channel_id: str
    day: date | None
    status: str  # posted | resumed | already_done | busy | stopped | failed | not_ready | empty | preview
    message: str
    posted: int = 0
    planned: int = 0
    payloads: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    retryable: bool = False  # a later attempt may succeed without anyone acting (not_ready, Slack 5xx...)
    retry_at: datetime | None = None  # busy: when the other worker's claim expires if it has died

    @property
    def ok(self) -> bool:
        return self.status not in ("failed",)


def load_prefs(ctx: DigestContext, *, team_id: str, channel_id: str, size: int | None = None) -> Prefs:
    """The channel's effective settings (read-only: a one-off run does not subscribe the channel)."""
    with ctx.sessions.begin() as session:
        channel = channel_store.get_channel(session=session, team_id=team_id, channel_id=channel_id)
        return prefs_for(channel, settings=ctx.settings, team_id=team_id, channel_id=channel_id, size=size)


def _day_list(ctx: DigestContext, day: date, source: str, *, sample_fallback: bool) -> DayList:
    key = (day, f"{source}:{sample_fallback}")
    with ctx.day_lock:  # held while fetching, so parallel channels wait for one fetch instead of each doing it
        if key not in ctx.day_cache:
            ctx.day_cache[key] = load_day(
                settings=ctx.settings, sessions=ctx.sessions, day=day, source=source, sample_fallback=sample_fallback
            )
        return ctx.day_cache[key]


def _postable(papers: Sequence[Any]) -> list[Any]:
    # A paper Slack would reject must not block the rest of the digest: it is left out of the plan.
    good = []
    for paper in papers:
        try:
            blocks.validate(blocks.paper_message(paper, rank=1))
            good.append(paper)
        except ValueError as exc:
            log.warning("leaving %s out of the digest: %s", paper.arxiv_id, exc)
    return good


def _plan(ctx: DigestContext, prefs: Prefs, day_list: DayList, *, store: bool) -> list[Any]:
    """Store the day's papers (real runs) and choose the channel's, excluding those posted there before."""
    with ctx.sessions.begin() as session:
        if store and day_list.source == "sample":
            # Posts need the papers' rows, but the sample is not that day's list: stored without a daily date
            # or an upvote snapshot, a later real run offline never mistakes it for the stored list of the day.
            upsert_papers(session=session, records=[replace(p, daily_date=None) for p in day_list.papers])
        elif store and day_list.source != "database":
            upsert_papers(session=session, records=day_list.papers, seen_on=day_list.day)
        papers = day_list.papers
        if day_list.source == "hf":
            papers = _with_stored_categories(session, papers)
        ids = [p.arxiv_id for p in papers]
        posted = posted_arxiv_ids(session=session, team_id=prefs.team_id, channel_id=prefs.channel_id, arxiv_ids=ids)
    return _postable(choose(papers, prefs=prefs, posted=posted))


def _with_stored_categories(session: Session, records: list[Any]) -> list[Any]:
    """`records`, those without arXiv categories given the ones stored earlier (by `paperbot fetch`, an import or
    an earlier digest), so a `topics` filter matches even when arXiv was not asked or did not answer today."""
    lacking = [r.arxiv_id for r in records if not r.categories]
    stored = get_papers(session=session, arxiv_ids=lacking) if lacking else {}
    return [
        replace(r, categories=list(known.categories), primary_category=known.primary_category)
        if not r.categories and (known := stored.get(r.arxiv_id)) is not None and known.categories
        else r
        for r in records
    ]


def preview_digest(
    ctx: DigestContext,
    *,
    team_id: str,
    channel_id: str,
    day: date | None = None,
    size: int | None = None,
    source: str = "hf",
) -> Outcome:
    """What a digest would post (the same payload builders), without claiming, storing or posting anything."""
    prefs = load_prefs(ctx, team_id=team_id, channel_id=channel_id, size=size)
    day = day or newest_day(ctx.clock(), prefs)
    finished = _finished_run(ctx, prefs, day)
    if finished is not None:
        return finished
    day_list = _day_list(ctx, day, source, sample_fallback=source == "hf")
    chosen = _plan(ctx, prefs, day_list, store=False)
    if not day_list.papers:
        return Outcome(channel_id, day, "not_ready", f"Hugging Face has no papers for {day} yet.", note=day_list.note)
    # The same arguments a real run hands chat.postMessage, but for the run id the claim would assign.
    if chosen:
        header = blocks.digest_header(
            day=day, count=len(chosen), total=len(day_list.papers), sample=day_list.source == "sample"
        )
        payloads = [blocks.digest_post(channel_id, header, run_id=None, arxiv_id=None)]
        payloads += [
            blocks.digest_post(channel_id, blocks.paper_message(p, rank=i), run_id=None, arxiv_id=p.arxiv_id)
            for i, p in enumerate(chosen, 1)
        ]
    elif prefs.post_empty_notice:
        payloads = [blocks.digest_post(channel_id, blocks.empty_digest(day=day), run_id=None, arxiv_id=None)]
    else:
        payloads = []
    where = "" if channel_id == PREVIEW_CHANNEL else f" to #{channel_id}"
    of = "of the bundled sample" if day_list.source == "sample" else f"of {day}"
    message = f"{len(chosen)} of {len(day_list.papers)} papers {of} would be posted{where}."
    return Outcome(channel_id, day, "preview", message, planned=len(chosen), payloads=payloads, note=day_list.note)


def _finished_run(ctx: DigestContext, prefs: Prefs, day: date) -> Outcome | None:
    """An `already_done` outcome when the channel's digest of `day` was posted (or found empty) before."""
    with ctx.sessions.begin() as session:
        run = runs.get_run(session=session, team_id=prefs.team_id, channel_id=prefs.channel_id, day=day)
        if run is None or run.status not in runs.FINISHED:
            return None
        count = len(run_posts(session=session, digest_run_id=run.id))
    what = f"{count} paper{'' if count == 1 else 's'}" if run.status == "done" else "no papers"
    return Outcome(
        prefs.channel_id,
        day,
        "already_done",
        f"The digest of {day} was already posted to #{prefs.channel_id} ({what}); nothing posted again.",
    )


def run_digest(
    ctx: DigestContext,
    *,
    team_id: str,
    channel_id: str,
    day: date | None = None,
    size: int | None = None,
    source: str = "hf",
    retry_failed: bool = True,
    give_up: bool = True,
) -> Outcome:
    """Post the channel's digest of `day` exactly once (resuming a half-posted one). `give_up=False` answers
    `not_ready` while the day's list is empty, so the scheduler can try again later."""
    if ctx.client is None:
        raise ValueError("a real digest run needs a Slack client")
    with ctx.sessions.begin() as session:
        channel_store.ensure_workspace(session=session, team_id=team_id)
    prefs = load_prefs(ctx, team_id=team_id, channel_id=channel_id, size=size)
    day = day or newest_day(ctx.clock(), prefs)
    finished = _finished_run(ctx, prefs, day)
    if finished is not None:
        return finished
    with ctx.sessions.begin() as session:
        known = runs.get_run(session=session, team_id=team_id, channel_id=channel_id, day=day) is not None
    plan: list[str] = []
    total: int | None = None
    note: str | None = None
    if not known:  # a known run already has its plan: resuming it needs no fetch
        try:
            day_list = _day_list(ctx, day, source, sample_fallback=False)
        except SourceError as exc:
            return Outcome(channel_id, day, "failed", str(exc), retryable=True)
        if not day_list.papers and not give_up:
            return Outcome(
                channel_id,
                day,
                "not_ready",
                f"Hugging Face has no papers for {day} yet; nothing posted.",
                retryable=True,
            )
        plan, total = [p.arxiv_id for p in _plan(ctx, prefs, day_list, store=True)], len(day_list.papers)
        note = day_list.note  # e.g. HF unreachable, the stored list used: the person must hear it, not only the log
    with ctx.sessions.begin() as session:
        claim = runs.claim_run(
            session=session,
            team_id=team_id,
            channel_id=channel_id,
            day=day,
            worker=ctx.worker,
            plan=plan,
            now=ctx.clock(),
            retry_failed=retry_failed,
        )
        run_id = claim.run.id
    outcome = (
        _not_ours(claim, prefs, day)
        if not claim.ours
        else _post_run(ctx, prefs, run_id, claim=claim, total=total, sample=source == "sample")
    )
    outcome.note = note
    return outcome


def _not_ours(claim: runs.Claim, prefs: Prefs, day: date) -> Outcome:
    where = f"#{prefs.channel_id}"
    if claim.outcome == "done":
        return Outcome(
            prefs.channel_id,
            day,
            "already_done",
            f"The digest of {day} was already posted to {where}; nothing posted again.",
        )
    if claim.outcome == "failed":
        return Outcome(
            prefs.channel_id,
            day,
            "failed",
            f"The digest of {day} for {where} failed earlier and is not retried automatically: {claim.run.error}",
        )
    # If that worker died, its claim expires one lease after its last heartbeat: try again just after that.
    expires = runs.aware(claim.run.heartbeat_at) + runs.LEASE + timedelta(seconds=30)
    return Outcome(
        prefs.channel_id,
        day,
        "busy",
        f"Another paperbot worker is posting the digest of {day} to {where} right now; nothing posted by this one.",
        retryable=True,
        retry_at=expires,
    )


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


def _load_state(ctx: DigestContext, run_id: int, last_activity: datetime | None) -> RunState:
    with ctx.sessions.begin() as session:
        run = session.get(DigestRun, run_id, populate_existing=True)
        assert run is not None
        papers = get_papers(session=session, arxiv_ids=run.plan)
        done = run_posts(session=session, digest_run_id=run_id)
        session.expunge_all()
    return RunState(
        run_id, run.digest_date, list(run.plan), runs.aware(run.claimed_at), run.header_ts, done, papers, last_activity
    )


def _post_run(
    ctx: DigestContext, prefs: Prefs, run_id: int, *, claim: runs.Claim, total: int | None, sample: bool
) -> Outcome:
    """Post what the claimed run has not posted yet, then mark it finished; failures are kept on the run."""
    resumed = claim.outcome == "resumed"
    state = _load_state(ctx, run_id, claim.last_activity)
    state.sample = sample
    try:
        if resumed:
            _reconcile(ctx, prefs, state)
        _post_messages(ctx, prefs, state, total)
    except LostClaim:
        return _lost(prefs, state)
    except Stopped:
        _release(ctx, state, "stopped: paperbot was shutting down", permanent=False)
        return Outcome(
            prefs.channel_id,
            state.day,
            "stopped",
            f"Stopped the digest of {state.day} for "
            f"#{prefs.channel_id} after {state.sent} paper(s) because paperbot is shutting down; "
            "the next start posts the rest.",
            posted=state.sent,
            planned=len(state.plan),
        )
    except Uncertain as exc:
        return _unreachable(ctx, prefs, state, exc)
    except SlackApiError as exc:
        return _failed(ctx, prefs, state, exc)
    except BaseException as exc:
        # Interrupted or an unexpected error: release the claim so the next attempt resumes at once.
        _release_after(ctx, state, exc)
        raise
    with ctx.sessions.begin() as session:
        finished = runs.finish_run(
            session=session, run_id=run_id, worker=ctx.worker, status="done" if state.plan else "empty", now=ctx.clock()
        )
    if not finished:
        return _lost(prefs, state)
    return _success(prefs, state, resumed=resumed)


def _lost(prefs: Prefs, state: RunState) -> Outcome:
    return Outcome(
        prefs.channel_id,
        state.day,
        "busy",
        f"Another worker took over the digest of {state.day} "
        f"for #{prefs.channel_id} after this one posted {state.sent} paper(s); it finishes the run.",
        posted=state.sent,
        planned=len(state.plan),
    )


def _release_after(ctx: DigestContext, state: RunState, exc: BaseException) -> None:
    """Release the claim after an interrupt or a bug, without hiding that first error."""
    for attempt in (1, 2):
        try:
            _release(ctx, state, f"{exc.__class__.__name__}: {first_line(exc)}", permanent=False)
            return
        except Exception as problem:
            # Ctrl-C in the middle of a query breaks that connection; the pool hands the retry a fresh one.
            if attempt == 2:
                log.warning(
                    "run %s: could not release its claim (%s); it is taken over after the lease",
                    state.run_id,
                    first_line(problem),
                )


def _success(prefs: Prefs, state: RunState, *, resumed: bool) -> Outcome:
    where, n = f"#{prefs.channel_id}", len(state.plan)
    if not state.plan:
        said = "posted a short notice" if prefs.post_empty_notice else "nothing posted"
        return Outcome(
            prefs.channel_id,
            state.day,
            "empty",
            f"No new papers of {state.day} for {where} (after its filters); {said}.",
        )
    if resumed:
        message = f"Resumed the digest of {state.day} in {where}: posted the {state.sent} remaining of {n} papers."
    else:
        message = f"Posted {state.sent} paper{'' if state.sent == 1 else 's'} of {state.day} to {where}."
    if state.skipped:
        message += f" ({state.skipped} already posted there by another digest, not repeated.)"
    return Outcome(
        prefs.channel_id, state.day, "resumed" if resumed else "posted", message, posted=state.sent, planned=n
    )


def _post_messages(ctx: DigestContext, prefs: Prefs, state: RunState, total: int | None) -> None:
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
            record_post(
                session=session,
                team_id=prefs.team_id,
                channel_id=prefs.channel_id,
                ts=ts,
                arxiv_id=arxiv_id,
                kind="digest",
                digest_run_id=state.run_id,
            )
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
    ts = _send(ctx, prefs, state, payload, arxiv_id)
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


def _reconcile(ctx: DigestContext, prefs: Prefs, state: RunState) -> None:
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
            record_post(
                session=session,
                team_id=prefs.team_id,
                channel_id=prefs.channel_id,
                ts=ts,
                arxiv_id=arxiv_id,
                kind="digest",
                digest_run_id=state.run_id,
            )
    state.done.update(missing)
    log.info("run %s: found %d unrecorded message(s) in #%s", state.run_id, len(missing), prefs.channel_id)


def explain_slack_error(error: str, channel_id: str) -> str:
    """One sentence an operator can act on for a Slack error code."""
    if error in ("not_in_channel", "channel_not_found"):
        return (
            f"Slack says {error} for #{channel_id}: invite the bot with /invite @paperbot "
            f"to #{channel_id} (or check the channel id)."
        )
    if error == "is_archived":
        return f"#{channel_id} is archived: unarchive it or turn its digest off."
    if error in TOKEN_ERRORS:
        return f"Slack rejected the bot token ({error}): check SLACK_BOT_TOKEN or reinstall the app."
    if error == "missing_scope":
        return "The Slack app lacks a scope (missing_scope): reinstall it from deploy/slack-manifest.yaml."
    if error in MESSAGE_ERRORS:
        return (
            f"Slack refused a digest message for #{channel_id} ({error}); sending it again would fail the "
            f"same way, so the run is marked failed: report it, and `paperbot digest --channel {channel_id}` "
            "retries it once fixed."
        )
    if error in PERMANENT_ERRORS:
        return f"Slack answered {error} while posting to #{channel_id}; the run is marked failed."
    return f"Slack answered {error} while posting to #{channel_id}; the next attempt resumes the digest."


def _failed(ctx: DigestContext, prefs: Prefs, state: RunState, exc: SlackApiError) -> Outcome:
    error = str(exc.response.get("error") or "unknown_error")
    reason = explain_slack_error(error, prefs.channel_id)
    log.error(
        "digest of %s for %s/%s stopped after %d message(s): %s",
        state.day,
        prefs.team_id,
        prefs.channel_id,
        state.sent,
        reason,
    )
    _release(ctx, state, reason, permanent=error in PERMANENT_ERRORS)
    return Outcome(
        prefs.channel_id,
        state.day,
        "failed",
        reason,
        posted=state.sent,
        planned=len(state.plan),
        retryable=error not in PERMANENT_ERRORS,
    )


def _unreachable(ctx: DigestContext, prefs: Prefs, state: RunState, exc: Uncertain) -> Outcome:
    reason = (
        f"Could not reach Slack at {ctx.settings.slack_api_url} while posting to #{prefs.channel_id} "
        f"({exc}); the next attempt resumes the digest without duplicates."
    )
    log.error(
        "digest of %s for %s/%s stopped after %d message(s): %s",
        state.day,
        prefs.team_id,
        prefs.channel_id,
        state.sent,
        reason,
    )
    _release(ctx, state, reason, permanent=False)
    return Outcome(
        prefs.channel_id, state.day, "failed", reason, posted=state.sent, planned=len(state.plan), retryable=True
    )


def _release(ctx: DigestContext, state: RunState, error: str, *, permanent: bool) -> None:
    with ctx.sessions.begin() as session:
        runs.fail_run(
            session=session, run_id=state.run_id, worker=ctx.worker, error=error, permanent=permanent, now=ctx.clock()
        )


def run_channels(
    ctx: DigestContext, targets: Sequence[tuple[str, str]], *, workers: int = 4, **options: Any
) -> list[Outcome]:
    """Run several channels' digests in parallel (each channel is paced on its own); outcomes in order."""

    def one(target: tuple[str, str]) -> Outcome:
        return run_digest(ctx, team_id=target[0], channel_id=target[1], **options)

    if len(targets) <= 1:
        return [one(t) for t in targets]
    with ThreadPoolExecutor(max_workers=min(workers, len(targets)), thread_name_prefix="digest") as pool:
        try:
            return list(pool.map(one, targets))
        except BaseException:
            # Ctrl-C reaches only this thread: tell the workers to stop between two posts and release their
            # claims (leaving the pool waits for them), and start no channel that has not begun.
            ctx.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


# ---- `paperbot digest` and `/papers digest now` ----------------------------------------------------------


class DigestError(Exception):
    """A digest could not even start (no channel, Slack unreachable or refusing us): one sentence for people."""


def slack_problem(settings: Settings, exc: BaseException) -> str:
    """One sentence for a Slack call that failed before any digest began (auth.test, Bolt's start-up check)."""
    if isinstance(exc, BoltError) and isinstance(exc.__context__, SlackApiError):
        exc = exc.__context__  # Bolt wraps auth.test's answer in a BoltError
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown_error")
        if error in PERMANENT_ERRORS:
            return explain_slack_error(error, settings.digest_channel or "?")
        return f"Slack answered {error}; try again in a moment."
    if isinstance(exc, BoltError):
        return f"The Slack app could not start: {first_line(exc)}"
    return (
        f"Could not reach Slack at {settings.slack_api_url} ({first_line(exc)}): check SLACK_API_URL and "
        "the network, then try again."
    )


def _slack_problem(ctx: DigestContext, exc: Exception) -> DigestError:
    return DigestError(slack_problem(ctx.settings, exc))


def cli_targets(ctx: DigestContext, *, team_id: str, channel: str | None) -> list[tuple[str, str]]:
    """Where `paperbot digest` posts: --channel, else digest-enabled channels and PAPERBOT_DIGEST_CHANNEL."""
    if channel:
        return [(team_id, channel)]
    with ctx.sessions.begin() as session:
        targets = [(c.team_id, c.channel_id) for c in channel_store.digest_channels(session=session, team_id=team_id)]
        default = ctx.settings.digest_channel
        if (
            default
            and (team_id, default) not in targets
            and not channel_store.digest_turned_off(session=session, team_id=team_id, channel_id=default)
        ):
            targets.append((team_id, default))
    return targets


def command_digest(
    ctx: DigestContext, *, channel: str | None, day: date | None, size: int | None, source: str, dry_run: bool
) -> list[Outcome]:
    """`paperbot digest`: a preview per channel (dry run, no Slack needed) or the real, exactly-once post.
    Raises DigestError (one sentence) when it cannot start."""
    if dry_run:
        with ctx.sessions.begin() as session:  # no Slack credentials: the workspace we know stands in
            team = channel_store.local_team(session=session)
        targets = cli_targets(ctx, team_id=team, channel=channel) or [(team, PREVIEW_CHANNEL)]
        return [preview_digest(ctx, team_id=t, channel_id=c, day=day, size=size, source=source) for t, c in targets]
    assert ctx.client is not None
    try:
        team = str(ctx.client.auth_test()["team_id"])
        targets = cli_targets(ctx, team_id=team, channel=channel)
        if not targets:
            raise DigestError("no channel to post to: pass --channel C0123456789 or set PAPERBOT_DIGEST_CHANNEL")
        return run_channels(ctx, targets, day=day, size=size, source=source, retry_failed=True, give_up=False)
    except (SlackClientError, OSError) as exc:
        raise _slack_problem(ctx, exc) from None


def digest_now(ctx: DigestContext, *, team_id: str, channel_id: str) -> str:
    """`/papers digest now`: post the channel's digest at once; what happened, in one sentence."""
    try:
        outcome = run_digest(ctx, team_id=team_id, channel_id=channel_id, retry_failed=True, give_up=False)
        return f"{outcome.note} {outcome.message}" if outcome.note else outcome.message
    except (SlackClientError, OSError) as exc:
        return str(_slack_problem(ctx, exc))


# ---- `/papers digest` --------------------------------------------------------------------------------------


def digest_command(deps: Deps, *, team_id: str, channel_id: str, args: str, token: str | None) -> str:
    """`/papers digest [now]`: the reply, after posting the channel's digest when `args` is `now`."""
    # The digest's own client never re-sends a message blindly (see the module docstring).
    client = make_client(deps.settings, token, idempotent_only=True)
    ctx = DigestContext(settings=deps.settings, sessions=deps.sessions, client=client)
    if args.strip().lower() == "now":
        return digest_now(ctx, team_id=team_id, channel_id=channel_id)
    return describe_channel(ctx, team_id=team_id, channel_id=channel_id)


def describe_channel(ctx: DigestContext, *, team_id: str, channel_id: str) -> str:
    """This channel's digest settings and last run, as one short mrkdwn reply for `/papers digest`."""
    with ctx.sessions.begin() as session:
        channel = channel_store.get_channel(session=session, team_id=team_id, channel_id=channel_id)
        last = runs.last_run(session=session, team_id=team_id, channel_id=channel_id)
        last_posts = len(run_posts(session=session, digest_run_id=last.id)) if last else 0
        last_run = blocks.LastRun(last.digest_date, last.status, last_posts, last.error) if last else None
    prefs = prefs_for(channel, settings=ctx.settings, team_id=team_id, channel_id=channel_id)
    # PAPERBOT_DIGEST_CHANNEL is scheduled by default, until `/papers config digest off` stores otherwise.
    scheduled = channel.digest_enabled if channel is not None else ctx.settings.digest_channel == channel_id
    return blocks.digest_settings_text(
        channel_id=channel_id,
        scheduled=scheduled,
        size=prefs.size,
        digest_time=prefs.digest_time,
        timezone=prefs.timezone,
        include_weekends=prefs.include_weekends,
        min_upvotes=prefs.min_upvotes,
        filters=prefs.filters,
        post_empty_notice=prefs.post_empty_notice,
        last=last_run,
    )
