"""The daily alert DMs against the loopback Slack on both databases: one DM per person and day, nothing without a
match, exactly once across runs, workers and crashes, and one person's Slack error does not stop the others."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.alert_blocks import AlertItem, alert_message, alert_post
from bot.alerts import run_alerts, subscribe
from bot.config import Settings
from bot.deps import Deps, make_client
from storage.db import make_engine, make_sessions
from storage.digests import LEASE
from storage.models import AlertRun
from storage.papers import daily_papers, upsert_papers
from storage.records import PaperRecord
from storage.subscriptions import claim_alert
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday: Tuesday's list is the newest complete one
DAY = date(2026, 11, 24)
PAPERS = [
    PaperRecord(arxiv_id="2411.00001", title="Latent Diffusion for Video", authors=["Ada Lovelace"], hf_upvotes=30),
    PaperRecord(arxiv_id="2411.00002", title="World Models that Plan", authors=["Yann LeCun"], hf_upvotes=20),
    PaperRecord(arxiv_id="2411.00003", title="A Study of Tokenizers", categories=["cs.CL"], hf_upvotes=10),
]


def settings_for(db_url: str, slack: FakeSlack, hf_url: str = "http://127.0.0.1:9/api/") -> Settings:
    return Settings(
        _env_file=None, database_url=db_url, slack_bot_token=BOT_TOKEN, slack_api_url=slack.url, hf_api_url=hf_url
    )


@pytest.fixture
def deps(db_url: str, sessions: sessionmaker[Session], slack: FakeSlack) -> Deps:
    slack.ts_base = int(NOW.timestamp())  # message ts on the test's clock, so DM history bounds by claim time work
    return Deps.of(settings_for(db_url, slack), sessions)


@pytest.fixture
def client(deps: Deps) -> WebClient:
    # What the scheduler hands run_alerts: a client that never re-sends a message blindly.
    return make_client(deps.settings, BOT_TOKEN, idempotent_only=True)


def store_day(deps: Deps, papers: list[PaperRecord] = PAPERS) -> None:
    with deps.sessions.begin() as s:
        upsert_papers(session=s, records=[dataclasses.replace(p, daily_date=DAY) for p in papers], seen_on=DAY)


def at(delta: timedelta = timedelta()) -> Callable[[], datetime]:
    return lambda: NOW + delta


def dms(slack: FakeSlack, user: str) -> list[dict[str, object]]:
    return slack.posted("D" + user.removeprefix("U"))


def runs(deps: Deps) -> dict[str, tuple[str, str | None]]:
    with deps.sessions.begin() as s:
        return {r.user_id: (r.status, r.error) for r in s.scalars(select(AlertRun).where(AlertRun.day == DAY))}


def test_each_subscriber_with_a_match_gets_one_dm_listing_every_match_and_others_nothing(
    deps: Deps, client: WebClient, slack: FakeSlack
) -> None:
    store_day(deps)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="difusion")  # a typo still matches
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text='author:"Yann LeCun"')
    subscribe(deps, team_id=TEAM_ID, user_id="U2", text="topic:cs.CL")
    subscribe(deps, team_id=TEAM_ID, user_id="U3", text="quantum chemistry")

    report = run_alerts(deps, client, worker="w1", clock=at())

    assert (report.day, report.sent, report.empty, report.failed) == (DAY, 2, 1, 0)
    [dm] = dms(slack, "U1")
    sections = [b["text"]["text"] for b in dm["blocks"][2:-1]]  # type: ignore[index]
    assert "Latent Diffusion for Video" in sections[0] and "matched `difusion`" in sections[0]
    assert "World Models that Plan" in sections[1] and 'matched `author:"Yann LeCun"`' in sections[1]
    assert dm["metadata"] == {"event_type": "paperbot_alert", "event_payload": {"day": "2026-11-24", "user": "U1"}}
    [dm2] = dms(slack, "U2")
    assert "A Study of Tokenizers" in str(dm2["blocks"]) and "Latent Diffusion" not in str(dm2["blocks"])
    assert dms(slack, "U3") == []  # nothing matched: no DM at all
    assert runs(deps) == {"U1": ("sent", None), "U2": ("sent", None), "U3": ("empty", None)}


def test_running_again_sends_nothing_and_asks_slack_nothing(deps: Deps, client: WebClient, slack: FakeSlack) -> None:
    store_day(deps)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="diffusion")
    run_alerts(deps, client, worker="w1", clock=at())
    calls = len(slack.calls)
    again = run_alerts(deps, client, worker="w2", clock=at(timedelta(hours=2)))
    assert (again.sent, again.note) == (0, f"every alert of {DAY} is settled")
    assert len(slack.calls) == calls and len(dms(slack, "U1")) == 1


def test_two_workers_with_their_own_engines_send_each_person_one_dm(db_url: str, deps: Deps, slack: FakeSlack) -> None:
    store_day(deps)
    people = [f"U{n}" for n in range(1, 6)]
    for user in people:
        subscribe(deps, team_id=TEAM_ID, user_id=user, text="diffusion")
    engines: list[Engine] = [make_engine(db_url) for _ in range(2)]
    barrier, reports = threading.Barrier(2), []

    def process(i: int) -> None:
        own = Deps.of(deps.settings, make_sessions(engines[i]))
        client = make_client(own.settings, BOT_TOKEN, idempotent_only=True)
        barrier.wait()
        reports.append(run_alerts(own, client, worker=f"replica-{i}", clock=at()))

    threads = [threading.Thread(target=process, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for engine in engines:
        engine.dispose()
    assert [len(dms(slack, user)) for user in people] == [1] * len(people)
    assert sum(r.sent for r in reports) == len(people)
    assert len(slack.calls_to("chat.postMessage")) == len(people)


def crashed_after_sending(deps: Deps, client: WebClient, user: str) -> str:
    """A worker that claimed the alert and had it accepted by Slack, then died before recording it."""
    with deps.sessions.begin() as s:
        assert claim_alert(session=s, team_id=TEAM_ID, user_id=user, day=DAY, worker="dead", now=NOW).ours
    with deps.sessions.begin() as s:
        papers = daily_papers(session=s, day=DAY)
        payload = alert_message(day=DAY, items=[AlertItem(papers[0], ["diffusion"])])
    channel = client.conversations_open(users=user)["channel"]["id"]
    return str(client.chat_postMessage(**alert_post(channel, payload, day=DAY, user_id=user))["ts"])


def test_a_dm_sent_by_a_worker_that_died_before_recording_it_is_found_not_sent_again(
    deps: Deps, client: WebClient, slack: FakeSlack
) -> None:
    store_day(deps)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="diffusion")
    ts = crashed_after_sending(deps, client, "U1")

    live = run_alerts(deps, client, worker="w1", clock=at(LEASE / 2))  # the claim may still be alive: hands off
    assert (live.sent, live.later, len(dms(slack, "U1"))) == (0, 1, 1)

    rescue = run_alerts(deps, client, worker="w2", clock=at(LEASE + timedelta(minutes=1)))
    assert rescue.sent == 1 and len(dms(slack, "U1")) == 1  # recorded from the DM's metadata, not re-sent
    assert slack.calls_to("conversations.history")[-1].params["channel"] == "D1"
    with deps.sessions.begin() as s:
        run = s.get(AlertRun, (TEAM_ID, "U1", DAY))
        assert run is not None and (run.status, run.ts, run.dm_channel) == ("sent", ts, "D1")


def test_a_worker_that_died_before_sending_is_taken_over_and_the_dm_sent_once(
    deps: Deps, client: WebClient, slack: FakeSlack
) -> None:
    store_day(deps)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="diffusion")
    with deps.sessions.begin() as s:
        claim_alert(session=s, team_id=TEAM_ID, user_id="U1", day=DAY, worker="dead", now=NOW)
    rescue = run_alerts(deps, client, worker="w2", clock=at(LEASE + timedelta(minutes=1)))
    assert rescue.sent == 1 and len(dms(slack, "U1")) == 1


def test_an_answer_lost_after_slack_posted_the_dm_is_settled_by_the_next_run_without_a_second_dm(
    deps: Deps, client: WebClient, slack: FakeSlack
) -> None:
    store_day(deps)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="diffusion")
    slack.fail_next("chat.postMessage", status=500, commit=True)  # posted, then the answer is lost
    first = run_alerts(deps, client, worker="w1", clock=at())
    assert first.later == 1 and runs(deps)["U1"] == ("claimed", "answer lost: HTTP 500")
    second = run_alerts(deps, client, worker="w2", clock=at(timedelta(minutes=30)))
    assert second.sent == 1 and len(dms(slack, "U1")) == 1
    assert runs(deps)["U1"] == ("sent", None)


def test_a_slack_refusal_for_one_person_marks_them_failed_and_the_others_still_get_theirs(
    deps: Deps, client: WebClient, slack: FakeSlack
) -> None:
    store_day(deps)
    for user in ("U1", "U2"):
        subscribe(deps, team_id=TEAM_ID, user_id=user, text="diffusion")
    slack.fail_next("conversations.open", error="user_disabled")  # U1 comes first: a deactivated account
    report = run_alerts(deps, client, worker="w1", clock=at())
    assert (report.sent, report.failed) == (1, 1)
    assert dms(slack, "U1") == [] and len(dms(slack, "U2")) == 1
    assert runs(deps) == {"U1": ("failed", "user_disabled"), "U2": ("sent", None)}
    # Not retried every half hour for the rest of the day.
    run_alerts(deps, client, worker="w2", clock=at(timedelta(hours=1)))
    assert len(slack.calls_to("conversations.open")) == 2


def test_the_days_list_is_fetched_and_stored_when_no_digest_did_it_and_nothing_happens_before_it_is_out(
    db_url: str, sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    slack.ts_base = int(NOW.timestamp())
    deps = Deps.of(settings_for(db_url, slack, hf.url), sessions)
    client = make_client(deps.settings, BOT_TOKEN, idempotent_only=True)
    subscribe(deps, team_id=TEAM_ID, user_id="U1", text="diffusion")

    early = run_alerts(deps, client, worker="w1", clock=at())
    assert early.note == f"no papers of {DAY} yet; a later run tries again"
    assert runs(deps) == {} and slack.calls == []  # nobody's alert was claimed: a later run sends it

    hf.set_daily(DAY, [daily_item("2411.00009", "Diffusion Everywhere", DAY, upvotes=5)])
    later = run_alerts(deps, client, worker="w2", clock=at(timedelta(minutes=30)))
    assert later.sent == 1 and "Diffusion Everywhere" in str(dms(slack, "U1")[0]["blocks"])
    with sessions.begin() as s:
        assert [p.arxiv_id for p in daily_papers(session=s, day=DAY)] == ["2411.00009"]


def test_without_subscribers_nothing_is_fetched(deps: Deps, client: WebClient, slack: FakeSlack) -> None:
    report = run_alerts(deps, client, worker="w1", clock=at())
    assert report.note == "no subscribers" and slack.calls == []
