"""The weekly recap: one channel's most voted and most discussed papers of a week, posted there exactly once.

Exactly once uses the digest's claim (storage.digests) with runs of kind `recap`, keyed by the week's Monday: the
recap's message and its thread reply carry Slack metadata naming the run, the message's ts is stored as the
run's header, and a worker that takes over a crashed run finds what it had posted (channel history, then the
thread) before posting anything. A week without votes or replies posts nothing and claims nothing.

Privacy: a recap counts only the activity on papers posted in its own channel, where it is posted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import metrics
from bot.blocks import recap as recap_blocks
from bot.blocks.recap import RecapPaper
from bot.digest.context import DigestContext, DigestStatus, Outcome, load_prefs
from bot.digest.slack_errors import PERMANENT_ERRORS, explain_slack_error
from bot.lookups import quick_client
from bot.sources.hf import HFClient, SourceError
from storage import channels as channel_store
from storage import digests as runs
from storage.models import DigestRun
from storage.papers import get_papers
from storage.states import ClaimOutcome, RunKind, RunStatus
from storage.tally import week_activity
from storage.text import first_line

log = logging.getLogger(__name__)

SHOWN = 2 * recap_blocks.TOP  # at most this many papers get a permalink and fresh HF upvotes
HF_TIMEOUT = 5.0
_WEEK = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)


def parse_week(text: str) -> date:
    """An ISO week `YYYY-Www` as its Monday: `parse_week("2026-W48") == date(2026, 11, 23)`; a ValueError saying
    what is wrong otherwise."""
    match = _WEEK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W48")
    year, week = int(match[1]), int(match[2])
    weeks = date(year, 12, 28).isocalendar()[1] if year else 0  # 28 December is always in the year's last week
    if not year or not 1 <= week <= weeks:
        raise ValueError(f"{text.strip()} is not a real week ({year} has {weeks} ISO weeks); use YYYY-Www")
    return date.fromisocalendar(year, week, 1)


def week_label(monday: date) -> str:
    """`week_label(date(2026, 11, 23)) == "2026-W48"`."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def recap_week(now: datetime, zone: str) -> date:
    """The Monday of the week a recap made at `now` covers: this week so far, or last week on a Monday (whose
    own week has barely begun)."""
    today = now.astimezone(ZoneInfo(zone)).date()
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7) if today.weekday() == 0 else monday


def week_window(monday: date, zone: str) -> tuple[datetime, datetime]:
    """The week as UTC instants: Monday 00:00 to the next Monday 00:00 in the channel's time zone."""
    tz = ZoneInfo(zone)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


@dataclass
class Week:
    """One channel's week as the recap shows it."""

    team_id: str
    channel_id: str
    monday: date
    papers: list[RecapPaper] = field(default_factory=list)
    threads: dict[str, str] = field(default_factory=dict)  # arXiv id -> its most active thread's ts


def gather_week(ctx: DigestContext, *, team_id: str, channel_id: str, monday: date) -> Week:
    """The channel's papers with votes or replies in the week (its own time zone), with their counts."""
    prefs = load_prefs(ctx, team_id=team_id, channel_id=channel_id)
    start, end = week_window(monday, prefs.timezone)
    with ctx.sessions.begin() as session:
        tallies = week_activity(
            session=session,
            team_id=team_id,
            channel_id=channel_id,
            start=start,
            end=end,
            vote_emoji=ctx.settings.vote_emoji,
        )
        papers = get_papers(session=session, arxiv_ids=[t.arxiv_id for t in tallies])
        week = Week(team_id, channel_id, monday)
        for t in tallies:
            paper = papers.get(t.arxiv_id)
            title, upvotes = (paper.title, paper.hf_upvotes) if paper is not None else (t.arxiv_id, None)
            week.papers.append(RecapPaper(t.arxiv_id, title, t.votes, t.replies, upvotes))
            week.threads[t.arxiv_id] = t.threads[0]
    return week


def shown(week: Week) -> list[RecapPaper]:
    """The papers the recap's own message names, most voted first."""
    top = recap_blocks.most_voted(week.papers)[: recap_blocks.TOP]
    top += recap_blocks.most_discussed(week.papers)[: recap_blocks.TOP]
    return list({p.arxiv_id: p for p in top}.values())[:SHOWN]


def freshen(ctx: DigestContext, week: Week, *, links: bool) -> str | None:
    """HF upvotes as they stand now and thread permalinks for the papers the message names; whatever Hugging
    Face or Slack cannot tell quickly keeps the stored count, or goes without a link. A note when HF did not
    answer."""
    names = {p.arxiv_id for p in shown(week)}
    fresh: dict[str, int] = {}  # arXiv id -> HF upvotes now
    note = None
    try:
        with HFClient(ctx.settings, timeout=min(HF_TIMEOUT, ctx.settings.http_timeout), max_retries=0) as hf:
            for arxiv_id in sorted(names):
                record = hf.paper(arxiv_id)
                if record is not None and record.hf_upvotes is not None:
                    fresh[arxiv_id] = record.hf_upvotes
    except (SourceError, OSError, ValueError) as exc:
        log.debug("recap: Hugging Face did not answer (%s)", first_line(exc))
        note = "Hugging Face did not answer: the HF upvotes shown are the ones paperbot stored."
    quick = quick_client(ctx.client) if links and ctx.client is not None else None
    for i, paper in enumerate(week.papers):
        upvotes = fresh.get(paper.arxiv_id, paper.hf_upvotes)
        permalink = None
        if quick is not None and paper.arxiv_id in names:
            try:
                answer = quick.chat_getPermalink(channel=week.channel_id, message_ts=week.threads[paper.arxiv_id])
                permalink = str(answer["permalink"])
            except (SlackApiError, SlackClientError, OSError, KeyError) as exc:
                log.info("recap: no permalink for %s: %s", paper.arxiv_id, first_line(exc))
        week.papers[i] = RecapPaper(paper.arxiv_id, paper.title, paper.votes, paper.replies, upvotes, permalink)
    return note


def payloads(week: Week, *, run_id: int | None, thread_ts: str | None = None) -> list[dict[str, Any]]:
    """chat.postMessage's arguments: the recap's message, and its thread reply when the message leaves papers
    out (a preview's reply has no thread yet)."""
    main = recap_blocks.recap_message(channel_id=week.channel_id, monday=week.monday, papers=week.papers)
    out = [recap_blocks.recap_post(week.channel_id, main, run_id=run_id, part="main")]
    if recap_blocks.needs_details(week.papers):
        details = recap_blocks.recap_details(monday=week.monday, papers=week.papers)
        out.append(
            recap_blocks.recap_post(week.channel_id, details, run_id=run_id, part="details", thread_ts=thread_ts)
        )
    return out


def preview_recap(ctx: DigestContext, *, team_id: str, channel_id: str, monday: date | None = None) -> Outcome:
    """`paperbot recap --dry-run`: the recap that would be posted, without Slack (no permalinks)."""
    monday = monday or recap_week(ctx.clock(), load_prefs(ctx, team_id=team_id, channel_id=channel_id).timezone)
    week = gather_week(ctx, team_id=team_id, channel_id=channel_id, monday=monday)
    if not week.papers:
        return _quiet(channel_id, monday)
    note = freshen(ctx, week, links=False)
    message = f"The recap of {week_label(monday)} for #{channel_id}: {len(week.papers)} paper(s) with activity."
    return Outcome(channel_id, monday, DigestStatus.PREVIEW, message, payloads=payloads(week, run_id=None), note=note)


def _quiet(channel_id: str, monday: date) -> Outcome:
    message = f"No votes or replies in #{channel_id} in {week_label(monday)}; no recap posted."
    return Outcome(channel_id, monday, DigestStatus.EMPTY, message)


def run_recap(ctx: DigestContext, *, team_id: str, channel_id: str, monday: date | None = None) -> Outcome:
    """Post the channel's recap of a week (default: the week `recap_week` picks) exactly once, resuming a
    crashed attempt without posting anything twice."""
    if ctx.client is None:
        raise ValueError("a real recap run needs a Slack client")
    monday = monday or recap_week(ctx.clock(), load_prefs(ctx, team_id=team_id, channel_id=channel_id).timezone)
    with ctx.sessions.begin() as session:
        channel_store.ensure_workspace(session=session, team_id=team_id)
        known = runs.get_run(session=session, team_id=team_id, channel_id=channel_id, day=monday, kind=RunKind.RECAP)
    week = gather_week(ctx, team_id=team_id, channel_id=channel_id, monday=monday)
    if not week.papers and known is None:
        return _quiet(channel_id, monday)
    with ctx.sessions.begin() as session:
        claim = runs.claim_run(
            session=session,
            team_id=team_id,
            channel_id=channel_id,
            day=monday,
            worker=ctx.worker,
            plan=[p.arxiv_id for p in week.papers],
            now=ctx.clock(),
            retry_failed=True,
            kind=RunKind.RECAP,
        )
        run_id, header_ts = claim.run.id, claim.run.header_ts
    if not claim.ours:
        return _not_ours(claim, channel_id, monday)
    if not week.papers and header_ts is None:  # a taken-over run whose week lost its activity meanwhile
        with ctx.sessions.begin() as session:
            runs.finish_run(session=session, run_id=run_id, worker=ctx.worker, status=RunStatus.EMPTY, now=ctx.clock())
        return _quiet(channel_id, monday)
    note = freshen(ctx, week, links=True)
    try:
        posted = _post(ctx, week, run_id, header_ts, resumed=claim.outcome == ClaimOutcome.RESUMED)
    except _Lost:
        return Outcome(channel_id, monday, DigestStatus.BUSY, "Another worker took this recap over; it finishes it.")
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        return _give_up(
            ctx, run_id, channel_id, monday, explain_slack_error(error, channel_id), error in PERMANENT_ERRORS
        )
    except (SlackClientError, OSError) as exc:
        reason = f"Could not reach Slack while posting the recap to #{channel_id} ({first_line(exc)}); retried later."
        return _give_up(ctx, run_id, channel_id, monday, reason, False)
    except BaseException as exc:
        _release(ctx, run_id, f"{exc.__class__.__name__}: {first_line(exc)}", permanent=False)
        raise
    with ctx.sessions.begin() as session:
        runs.finish_run(session=session, run_id=run_id, worker=ctx.worker, status=RunStatus.DONE, now=ctx.clock())
    status = DigestStatus.RESUMED if claim.outcome == ClaimOutcome.RESUMED else DigestStatus.POSTED
    message = (
        f"Posted the recap of {week_label(monday)} to #{channel_id} ({posted} message(s), {len(week.papers)} papers)."
    )
    return Outcome(channel_id, monday, status, message, posted=posted, planned=len(week.papers), note=note)


class _Lost(Exception):
    """Another worker took the run over: stop before posting anything more."""


def _post(ctx: DigestContext, week: Week, run_id: int, header_ts: str | None, *, resumed: bool) -> int:
    """Post what the run has not posted yet: its message (recording its ts), then its thread reply if any."""
    assert ctx.client is not None
    sent = 0
    if header_ts is None and resumed:
        header_ts = _find(ctx, week.channel_id, run_id, "main", None)
        if header_ts is not None:
            _record_header(ctx, run_id, header_ts)
    if header_ts is None:
        _beat(ctx, run_id)
        header_ts = str(ctx.client.chat_postMessage(**payloads(week, run_id=run_id)[0])["ts"])
        metrics.RECAP_MESSAGES.inc()
        sent += 1
        _record_header(ctx, run_id, header_ts)  # before the reply: a crash from here on never reposts it
        resumed = False
    rest = payloads(week, run_id=run_id, thread_ts=header_ts)[1:]
    if rest and not (resumed and _find(ctx, week.channel_id, run_id, "details", header_ts)):
        _beat(ctx, run_id)
        ctx.client.chat_postMessage(**rest[0])
        metrics.RECAP_MESSAGES.inc()
        sent += 1
    return sent


def _beat(ctx: DigestContext, run_id: int) -> None:
    """Renew the claim (compare-and-swap) right before a message: a worker whose run was taken over stops."""
    with ctx.sessions.begin() as session:
        if not runs.heartbeat(session=session, run_id=run_id, worker=ctx.worker, now=ctx.clock()):
            raise _Lost


def _record_header(ctx: DigestContext, run_id: int, ts: str) -> None:
    with ctx.sessions.begin() as session:
        if not runs.set_header(session=session, run_id=run_id, worker=ctx.worker, ts=ts):
            raise _Lost


def _find(ctx: DigestContext, channel_id: str, run_id: int, part: str, thread_ts: str | None) -> str | None:
    """The ts of this run's `part` that a crashed worker posted (channel history, or the thread of `thread_ts`)."""
    assert ctx.client is not None
    if thread_ts is None:
        with ctx.sessions.begin() as session:
            run = session.get(DigestRun, run_id)
            assert run is not None
            since = f"{runs.aware(run.claimed_at).timestamp() - 60:.6f}"
        answer = ctx.client.conversations_history(
            channel=channel_id, oldest=since, limit=200, include_all_metadata=True
        )
    else:
        answer = ctx.client.conversations_replies(
            channel=channel_id, ts=thread_ts, limit=200, include_all_metadata=True
        )
    for message in answer.get("messages") or []:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == recap_blocks.RECAP_EVENT and payload == {"run": run_id, "part": part}:
            return str(message["ts"])
    return None


def _not_ours(claim: runs.Claim, channel_id: str, monday: date) -> Outcome:
    week = week_label(monday)
    if claim.outcome == ClaimOutcome.DONE:
        message = f"The recap of {week} was already posted to #{channel_id}; nothing posted again."
        return Outcome(channel_id, monday, DigestStatus.ALREADY_DONE, message)
    expires = runs.aware(claim.run.heartbeat_at) + runs.LEASE + timedelta(seconds=30)
    message = f"Another paperbot worker is posting the recap of {week} to #{channel_id}; nothing posted by this one."
    return Outcome(channel_id, monday, DigestStatus.BUSY, message, retryable=True, retry_at=expires)


def _give_up(ctx: DigestContext, run_id: int, channel_id: str, monday: date, reason: str, permanent: bool) -> Outcome:
    log.error("recap of %s for %s stopped: %s", week_label(monday), channel_id, reason)
    _release(ctx, run_id, reason, permanent=permanent)
    return Outcome(channel_id, monday, DigestStatus.FAILED, reason, retryable=not permanent)


def _release(ctx: DigestContext, run_id: int, error: str, *, permanent: bool) -> None:
    with ctx.sessions.begin() as session:
        runs.fail_run(
            session=session, run_id=run_id, worker=ctx.worker, error=error, permanent=permanent, now=ctx.clock()
        )
