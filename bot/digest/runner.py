"""The exactly-once runner: claim a channel's run of a day, post what it has not posted, finish or release it.

Exactly once, step by step (docs/exactly-once.md tells the whole story):
1. The day's papers are fetched and stored *before* the claim; the plan (ordered arXiv ids) is fixed in the
   claimed DigestRun, so whoever resumes the run posts the same list (storage.digests explains the claim).
2. Each message carries Slack message metadata `{event_type: "paperbot_digest", event_payload: {run, arxiv_id}}`
   and its Post row is committed right after Slack accepts it: a process killed after k of N papers leaves k
   posts; resuming posts the N - k left.
3. The one gap left, a crash between Slack's accept and our commit, is closed on resume: the run's own messages
   are found in `conversations.history` by their metadata and recorded before anything is posted.
4. Before every message the claim's heartbeat is renewed with a compare-and-swap: a worker whose run was taken
   over stops before posting anything more.
5. chat.postMessage is never re-sent blindly (bot.digest.posting).
6. `request_stop()` makes every run stop between two messages and release its claim.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, ParamSpec

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import metrics
from bot.choose import Prefs, newest_day
from bot.digest.context import DigestContext, DigestStatus, Outcome, load_prefs
from bot.digest.day import finished_run, list_of_day, plan_papers
from bot.digest.posting import LostClaim, RunState, Stopped, Uncertain, load_state, post_messages, reconcile
from bot.digest.slack_errors import PERMANENT_ERRORS, explain_slack_error, slack_problem
from bot.logs import log_context
from bot.sources.hf import SourceError
from storage import channels as channel_store
from storage import digests as runs
from storage.states import ClaimOutcome, RunStatus
from storage.text import first_line

log = logging.getLogger(__name__)
P = ParamSpec("P")


def _counted(run: Callable[P, Outcome]) -> Callable[P, Outcome]:
    """`run` with its log records naming the team and channel, and its outcome counted (bot.metrics)."""

    @functools.wraps(run)
    def counted(*args: P.args, **kwargs: P.kwargs) -> Outcome:
        with log_context(team=kwargs.get("team_id"), channel=kwargs.get("channel_id")):
            outcome = run(*args, **kwargs)
        metrics.DIGEST_RUNS.labels(outcome.status.value).inc()
        return outcome

    return counted


@_counted
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
    finished = finished_run(ctx, prefs, day)
    if finished is not None:
        return finished
    with ctx.sessions.begin() as session:
        known = runs.get_run(session=session, team_id=team_id, channel_id=channel_id, day=day) is not None
    planned: list[str] = []
    total: int | None = None
    note: str | None = None
    if not known:  # a known run already has its plan: resuming it needs no fetch
        fresh = _fresh_plan(ctx, prefs, day, source, give_up=give_up)
        if isinstance(fresh, Outcome):
            return fresh
        planned, total, note = fresh
    with ctx.sessions.begin() as session:
        claim = runs.claim_run(
            session=session,
            team_id=team_id,
            channel_id=channel_id,
            day=day,
            worker=ctx.worker,
            plan=planned,
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


def _fresh_plan(
    ctx: DigestContext, prefs: Prefs, day: date, source: str, *, give_up: bool
) -> tuple[list[str], int | None, str | None] | Outcome:
    """A new run's plan: the day's papers fetched and stored, the channel's chosen (ids in posting order), the
    list's size and a note for people (e.g. HF unreachable, the stored list used); or why there is none yet."""
    try:
        day_list = list_of_day(ctx, day, source, sample_fallback=False)
    except SourceError as exc:
        return Outcome(prefs.channel_id, day, DigestStatus.FAILED, str(exc), retryable=True)
    if not day_list.papers and not give_up:
        message = f"Hugging Face has no papers for {day} yet; nothing posted."
        return Outcome(prefs.channel_id, day, DigestStatus.NOT_READY, message, retryable=True)
    chosen = [p.arxiv_id for p in plan_papers(ctx, prefs, day_list, store=True)]
    return chosen, len(day_list.papers), day_list.note


def _not_ours(claim: runs.Claim, prefs: Prefs, day: date) -> Outcome:
    where = f"#{prefs.channel_id}"
    if claim.outcome == ClaimOutcome.DONE:
        return Outcome(
            prefs.channel_id,
            day,
            DigestStatus.ALREADY_DONE,
            f"The digest of {day} was already posted to {where}; nothing posted again.",
        )
    if claim.outcome == ClaimOutcome.FAILED:
        return Outcome(
            prefs.channel_id,
            day,
            DigestStatus.FAILED,
            f"The digest of {day} for {where} failed earlier and is not retried automatically: {claim.run.error}",
        )
    # If that worker died, its claim expires one lease after its last heartbeat: try again just after that.
    expires = runs.aware(claim.run.heartbeat_at) + runs.LEASE + timedelta(seconds=30)
    return Outcome(
        prefs.channel_id,
        day,
        DigestStatus.BUSY,
        f"Another paperbot worker is posting the digest of {day} to {where} right now; nothing posted by this one.",
        retryable=True,
        retry_at=expires,
    )


def _post_run(
    ctx: DigestContext, prefs: Prefs, run_id: int, *, claim: runs.Claim, total: int | None, sample: bool
) -> Outcome:
    """Post what the claimed run has not posted yet, then mark it finished; failures are kept on the run."""
    resumed = claim.outcome == ClaimOutcome.RESUMED
    state = load_state(ctx, run_id, claim.last_activity)
    state.sample = sample
    try:
        if resumed:
            reconcile(ctx, prefs, state)
        post_messages(ctx, prefs, state, total)
    except LostClaim:
        return _lost(prefs, state)
    except Stopped:
        _release(ctx, state, "stopped: paperbot was shutting down", permanent=False)
        return Outcome(
            prefs.channel_id,
            state.day,
            DigestStatus.STOPPED,
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
            session=session,
            run_id=run_id,
            worker=ctx.worker,
            status=RunStatus.DONE if state.plan else RunStatus.EMPTY,
            now=ctx.clock(),
        )
    if not finished:
        return _lost(prefs, state)
    return _success(prefs, state, resumed=resumed)


def _lost(prefs: Prefs, state: RunState) -> Outcome:
    return Outcome(
        prefs.channel_id,
        state.day,
        DigestStatus.BUSY,
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
            DigestStatus.EMPTY,
            f"No new papers of {state.day} for {where} (after its filters); {said}.",
        )
    if resumed:
        message = f"Resumed the digest of {state.day} in {where}: posted the {state.sent} remaining of {n} papers."
    else:
        message = f"Posted {state.sent} paper{'' if state.sent == 1 else 's'} of {state.day} to {where}."
    if state.skipped:
        message += f" ({state.skipped} already posted there by another digest, not repeated.)"
    return Outcome(
        prefs.channel_id,
        state.day,
        DigestStatus.RESUMED if resumed else DigestStatus.POSTED,
        message,
        posted=state.sent,
        planned=n,
    )


def _failed(ctx: DigestContext, prefs: Prefs, state: RunState, exc: SlackApiError) -> Outcome:
    error = str(exc.response.get("error") or "unknown_error")
    permanent = error in PERMANENT_ERRORS
    return _stopped_failing(ctx, prefs, state, explain_slack_error(error, prefs.channel_id), permanent=permanent)


def _unreachable(ctx: DigestContext, prefs: Prefs, state: RunState, exc: Uncertain) -> Outcome:
    reason = (
        f"Could not reach Slack at {ctx.settings.slack_api_url} while posting to #{prefs.channel_id} "
        f"({exc}); the next attempt resumes the digest without duplicates."
    )
    return _stopped_failing(ctx, prefs, state, reason, permanent=False)


def _stopped_failing(ctx: DigestContext, prefs: Prefs, state: RunState, reason: str, *, permanent: bool) -> Outcome:
    """Log why the run stopped, release its claim (for good when no retry can help) and say so."""
    log.error(
        "digest of %s for %s/%s stopped after %d message(s): %s",
        state.day,
        prefs.team_id,
        prefs.channel_id,
        state.sent,
        reason,
    )
    _release(ctx, state, reason, permanent=permanent)
    return Outcome(
        prefs.channel_id,
        state.day,
        DigestStatus.FAILED,
        reason,
        posted=state.sent,
        planned=len(state.plan),
        retryable=not permanent,
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


def digest_now(ctx: DigestContext, *, team_id: str, channel_id: str) -> str:
    """`/papers digest now`: post the channel's digest at once; what happened, in one sentence."""
    try:
        outcome = run_digest(ctx, team_id=team_id, channel_id=channel_id, retry_failed=True, give_up=False)
        return f"{outcome.note} {outcome.message}" if outcome.note else outcome.message
    except (SlackClientError, OSError) as exc:
        return slack_problem(ctx.settings, exc)
