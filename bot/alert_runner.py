"""Sending the day's alert DMs: one per subscriber with matches, exactly once across replicas and restarts.

Which day: the newest complete Hugging Face list (yesterday in New York, bot.sources.hf.newest_complete_day), with
weekend lists skipped as a digest skips them by default (a Saturday run finds Friday's list, already sent). Its
papers are the stored ones; when none are stored yet (no digest channel fetched them) the list is fetched and
stored; while Hugging Face has nothing for the day, nothing happens and a later run tries again.

Each person's DM is claimed first (storage.subscriptions.claim_alert) and the claim committed before anything is
sent; the DM carries metadata naming the day and the person. A worker that takes over a dead one's claim first looks
for that message in the DM and records it instead of sending it again. A Slack refusal for one person (deactivated,
say) marks that person's alert failed for the day and the run goes on; an answer lost to a 5xx or a broken
connection leaves the claim for a later run, which looks before it sends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.blocks import alerts as alert_blocks
from bot.choose import PaperLike, matches, weekday_adjusted
from bot.deps import Deps
from bot.digest.day import load_day
from bot.sources.hf import SourceError, newest_complete_day
from storage import subscriptions as store
from storage.digests import aware
from storage.models import Paper, utcnow
from storage.papers import daily_papers, upsert_papers
from storage.text import first_line

log = logging.getLogger(__name__)

HISTORY_PAGES = 5
HISTORY_MARGIN = timedelta(minutes=1)


@dataclass
class AlertReport:
    """What one run did: the day, and how many people got a DM, had no match, failed, or were left for later."""

    day: date | None
    sent: int = 0
    empty: int = 0
    failed: int = 0
    later: int = 0  # Slack's answer was lost, or another worker holds the claim: a later run settles it
    note: str | None = None
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)

    def count(self, person: tuple[str, str], outcome: str) -> None:
        """Tally one person's outcome."""
        self.outcomes[person] = outcome
        if outcome in ("sent", "empty", "failed"):
            setattr(self, outcome, getattr(self, outcome) + 1)
        elif outcome in ("busy", "later"):
            self.later += 1


class LostAnswer(Exception):
    """Slack may or may not have delivered the DM and cannot say now: a later run looks before sending."""


def alert_day(now: datetime) -> date:
    """The list alerts are about at `now`: the newest complete one, weekend lists skipped (Monday gets Friday's)."""
    return weekday_adjusted(newest_complete_day(now), include_weekends=False)


def run_alerts(
    deps: Deps,
    client: WebClient | Callable[[str], WebClient | None],
    day: date | None = None,
    *,
    worker: str,
    clock: Callable[[], datetime] = utcnow,
) -> AlertReport:
    """Send every subscriber their DM of `day` (default: `alert_day(now)`) unless it was sent or found empty.

    `client` is the one workspace's client, or (OAuth installs) the client of a workspace by its team id, None
    for a workspace that uninstalled the app: its subscribers get nothing."""
    day = day or alert_day(clock())
    report = AlertReport(day)
    with deps.sessions.begin() as session:
        people = store.subscribers(session=session)
        settled = store.alert_statuses(session=session, day=day)
        session.expunge_all()
    pending = [p for p in people if settled.get((p.team_id, p.user_id)) in (None, "claimed")]
    if not pending:
        report.note = "no subscribers" if not people else f"every alert of {day} is settled"
        return report
    papers = papers_of_day(deps, day)
    if not papers:
        report.note = f"no papers of {day} yet; a later run tries again"
        return report
    clients: dict[str, WebClient | None] = {}
    for person in pending:
        if person.team_id not in clients:
            clients[person.team_id] = client if isinstance(client, WebClient) else client(person.team_id)
        team_client = clients[person.team_id]
        if team_client is None:
            continue
        outcome = _alert_person(deps, team_client, person, day, papers, worker=worker, clock=clock)
        report.count((person.team_id, person.user_id), outcome)
    log.info(
        "alerts of %s: %d sent, %d without matches, %d failed, %d left for later",
        *(day, report.sent, report.empty, report.failed, report.later),
    )
    return report


def papers_of_day(deps: Deps, day: date) -> list[Paper]:
    """The day's stored list; fetched from Hugging Face and stored first when none is stored; [] if HF has none."""
    with deps.sessions.begin() as session:
        stored = daily_papers(session=session, day=day)
        session.expunge_all()
    if stored:
        return stored
    try:
        day_list = load_day(settings=deps.settings, sessions=deps.sessions, day=day)
    except SourceError as exc:
        log.warning("alerts: the list of %s is not available: %s", day, first_line(exc))
        return []
    if day_list.source != "hf" or not day_list.papers:
        return []
    with deps.sessions.begin() as session:
        upsert_papers(session=session, records=day_list.papers, seen_on=day)
        stored = daily_papers(session=session, day=day)
        session.expunge_all()
    return stored


def subscription_matches(paper: PaperLike, filters: dict[str, list[str]]) -> bool:
    """Whether a paper matches a subscription: every one of its terms holds, each by the digest's fuzzy rules
    (bot.choose.matches), as the terms of `/papers search` combine. A subscription without terms matches nothing."""
    terms = [(kind, value) for kind, values in filters.items() for value in values if value.strip()]
    return bool(terms) and all(matches(paper, {kind: [value]}) for kind, value in terms)


def matching(papers: Sequence[Paper], subscriptions: Sequence[Any]) -> list[alert_blocks.AlertItem]:
    """The papers (in the list's order) that match any subscription, each with the texts of those it matched."""
    items = []
    for paper in papers:
        hits = [s.text for s in subscriptions if subscription_matches(paper, _filters(s.filters))]
        if hits:
            items.append(alert_blocks.AlertItem(paper, hits))
    return items


def _filters(stored: Any) -> dict[str, list[str]]:
    stored = stored if isinstance(stored, dict) else {}
    return {k: [str(v) for v in vs] for k, vs in stored.items() if isinstance(vs, list)}


def _alert_person(
    deps: Deps,
    client: WebClient,
    person: store.Subscriber,
    day: date,
    papers: Sequence[Paper],
    *,
    worker: str,
    clock: Callable[[], datetime],
) -> str:
    """Claim, then send (or find) one person's DM; the outcome: sent, empty, failed, busy, later, done."""
    team, user = person.team_id, person.user_id
    key: dict[str, Any] = {"team_id": team, "user_id": user, "day": day, "worker": worker}
    with deps.sessions.begin() as session:
        claim = store.claim_alert(session=session, now=clock(), **key)
        claimed_at = aware(claim.run.claimed_at)
    if not claim.ours:
        return claim.outcome
    items = matching(papers, person.subscriptions)
    payload = alert_blocks.alert_message(day=day, items=items)
    problem = _invalid(payload) if items else None
    if not items or problem:
        with deps.sessions.begin() as session:
            store.finish_alert(session=session, status="failed" if problem else "empty", error=problem, **key)
        return "failed" if problem else "empty"
    try:
        channel = str(client.conversations_open(users=user)["channel"]["id"])
        ts = _find_sent(client, channel, day, user, since=claimed_at) if claim.outcome == "resumed" else None
        if ts is None:
            with deps.sessions.begin() as session:
                # Compare-and-swap just before sending: a worker whose claim was taken over sends nothing.
                if not store.alert_heartbeat(session=session, now=clock(), **key):
                    return "busy"
            ts = _send(client, channel, day, user, payload)
    except LostAnswer as exc:
        return _later(deps, key, f"answer lost: {exc}")
    except OSError as exc:  # Slack unreachable before anything was sent
        return _later(deps, key, first_line(exc))
    except SlackApiError as exc:
        if exc.response.status_code != 200:  # Slack down or still rate limiting: nothing was sent, try later
            return _later(deps, key, f"HTTP {exc.response.status_code}")
        error = str(exc.response.get("error") or first_line(exc))
        log.warning("alert of %s for %s/%s failed: %s", day, team, user, error)
        with deps.sessions.begin() as session:
            store.finish_alert(session=session, status="failed", error=error, **key)
        return "failed"
    with deps.sessions.begin() as session:
        store.finish_alert(session=session, status="sent", dm_channel=channel, ts=ts, **key)
    return "sent"


def _later(deps: Deps, key: dict[str, Any], error: str) -> str:
    """Leave our claim for a later run (which looks in the DM before sending), saying why."""
    log.warning("alert of %s for %s/%s left for a later run: %s", key["day"], key["team_id"], key["user_id"], error)
    with deps.sessions.begin() as session:
        store.note_alert_error(session=session, error=error, **key)
    return "later"


def _invalid(payload: dict[str, Any]) -> str | None:
    """Why Slack would refuse the DM (a builder bug: the person's alert fails, the others still go out), or None."""
    try:
        blocks.validate(payload)
    except ValueError as exc:
        log.error("an alert DM Slack would refuse: %s", exc)
        return f"invalid message: {exc}"
    return None


def _send(client: WebClient, channel: str, day: date, user: str, payload: dict[str, Any]) -> str:
    """chat.postMessage once; a 5xx, an exhausted 429 or a broken connection leaves its fate open (LostAnswer)."""
    try:
        response = client.chat_postMessage(**alert_blocks.alert_post(channel, payload, day=day, user_id=user))
    except SlackApiError as exc:
        if exc.response.status_code == 200:  # a definite no: `ok: false` with Slack's reason
            raise
        raise LostAnswer(f"HTTP {exc.response.status_code}") from exc
    except OSError as exc:
        raise LostAnswer(first_line(exc)) from exc
    return str(response["ts"])


def _find_sent(client: WebClient, channel: str, day: date, user: str, *, since: datetime) -> str | None:
    """The ts of this day's alert DM if a crashed worker already sent it (found by its metadata), else None.
    Slack refusing to show the DM (e.g. no `im:history`) is a SlackApiError: the alert fails rather than risk
    sending it twice; Slack unreachable is a LostAnswer."""
    cursor = None
    try:
        for _ in range(HISTORY_PAGES):
            response = client.conversations_history(
                channel=channel,
                limit=200,
                cursor=cursor,
                oldest=f"{(since - HISTORY_MARGIN).timestamp():.6f}",
                include_all_metadata=True,
            )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == alert_blocks.ALERT_EVENT and payload == {
                    "day": day.isoformat(),
                    "user": user,
                }:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
    except OSError as exc:
        raise LostAnswer(first_line(exc)) from exc
    return None
