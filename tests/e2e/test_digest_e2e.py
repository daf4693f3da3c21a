"""The daily digest end to end: the real WebClient against the loopback Slack, the real HF client against the
loopback HF, and the database on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import delete, select, update

from bot.config import Settings
from bot.deps import Deps, make_client
from bot.digest import DigestContext, run_digest
from storage.channels import update_channel
from storage.db import make_engine, make_sessions
from storage.digests import LEASE
from storage.models import DigestRun, Paper, Post, utcnow
from storage.papers import upsert_papers
from storage.records import PaperRecord
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack, SlackSender
from tests.running import bot_settings

DAY = date(2026, 11, 24)  # a Tuesday
CHANNEL = "C0001"
UPVOTES = {"2411.00001": 5, "2411.00002": 40, "2411.00003": None, "2411.00004": 12, "2411.00005": 40}


@pytest.fixture
def hf() -> Iterator[FakeHF]:
    fake = FakeHF().start()
    fake.set_daily(DAY, [daily_item(i, f"Paper {i[-1]}", DAY, upvotes=u) for i, u in UPVOTES.items()])
    yield fake
    fake.stop()


@pytest.fixture
def settings(db_url: str, slack: FakeSlack, hf: FakeHF) -> Settings:
    slack.ts_base = int(time.time())  # message ts on the real clock, as the runs' history bounds are
    return bot_settings(db_url, slack, hf_api_url=hf.url, digest_size=3)


def context(settings: Settings, *, sleeps: list[float] | None = None, **kw: Any) -> DigestContext:
    engine = make_engine(settings.database_url)
    record = sleeps.append if sleeps is not None else (lambda _s: None)
    return DigestContext(
        deps=Deps.of(settings, make_sessions(engine)),
        client=make_client(settings, BOT_TOKEN, idempotent_only=True),
        sleep=record,
        **kw,
    )


def run(ctx: DigestContext, **kw: Any) -> Any:
    return run_digest(ctx, team_id=TEAM_ID, channel_id=CHANNEL, day=DAY, **kw)


def paper_ids(slack: FakeSlack) -> list[str]:
    """The arXiv ids of the paper messages in the channel, in posting order (from their metadata)."""
    return [
        m["metadata"]["event_payload"]["arxiv_id"]
        for m in slack.posted(CHANNEL)
        if "arxiv_id" in m.get("metadata", {}).get("event_payload", {})
    ]


def test_header_then_one_message_per_paper_by_upvotes_and_a_rerun_posts_nothing(
    settings: Settings, slack: FakeSlack
) -> None:
    sleeps: list[float] = []
    ctx = context(settings, sleeps=sleeps)
    outcome = run(ctx)
    messages = slack.posted(CHANNEL)
    assert outcome.status == "posted" and outcome.posted == 3
    assert "3 papers" in messages[0]["text"] and "top 3 of 5" in messages[0]["text"]
    # Most upvoted first; the tie (40, 40) keeps HF's order; unknown upvotes would come last.
    assert paper_ids(slack) == ["2411.00002", "2411.00005", "2411.00004"]
    assert messages[1]["text"].startswith("1. Paper 2")
    # Every paper message's ts is stored as a digest post of its paper.
    with ctx.sessions.begin() as s:
        posts = {p.arxiv_id: p.ts for p in s.scalars(select(Post).where(Post.kind == "digest"))}
    assert posts == {m["metadata"]["event_payload"]["arxiv_id"]: m["ts"] for m in messages[1:]}
    # Paced: one wait before each message after the first, each about a second.
    assert len(sleeps) == 3 and all(0 < s <= 1.1 for s in sleeps)

    again = run(context(settings))
    assert again.status == "already_done" and "nothing posted again" in again.message
    assert len(slack.posted(CHANNEL)) == 4


def test_next_day_never_reposts_a_paper_and_respects_filters(settings: Settings, slack: FakeSlack, hf: FakeHF) -> None:
    ctx = context(settings)
    run(ctx)
    next_day = DAY + timedelta(days=1)
    hf.set_daily(
        next_day,
        [
            daily_item("2411.00002", "Paper 2", next_day, upvotes=99),
            daily_item("2411.00009", "Diffusion for robots", next_day, upvotes=1),
            daily_item("2411.00010", "Language models", next_day, upvotes=2),
        ],
    )
    with ctx.sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id=CHANNEL, filters={"keywords": ["difusion"]})
    outcome = run_digest(ctx, team_id=TEAM_ID, channel_id=CHANNEL, day=next_day)
    assert outcome.posted == 1
    assert paper_ids(slack)[-1] == "2411.00009"  # the typo still matched; yesterday's paper was not reposted


def crash_after(k: int) -> Any:
    """A sleep that 'kills the process' before the (k+1)-th paper (sleep runs before every paper message)."""
    calls = {"n": 0}

    def sleep(_seconds: float) -> None:
        calls["n"] += 1
        if calls["n"] > k:
            raise KeyboardInterrupt

    return sleep


def test_crash_after_k_papers_then_a_rerun_posts_exactly_the_rest(settings: Settings, slack: FakeSlack) -> None:
    settings = settings.model_copy(update={"digest_size": 5})
    ctx = context(settings)
    ctx.sleep = crash_after(2)
    with pytest.raises(KeyboardInterrupt):
        run(ctx)
    assert len(paper_ids(slack)) == 2
    outcome = run(context(settings))
    assert outcome.status == "resumed" and outcome.posted == 3
    ids = paper_ids(slack)
    assert len(ids) == 5 and len(set(ids)) == 5
    assert len(slack.posted(CHANNEL)) == 6  # one header, never repeated


def hard_kill_after_three_papers(settings: Settings, slack: FakeSlack) -> DigestContext:
    """A run that died hard after Slack accepted its third paper: the claim is still held with a fresh heartbeat,
    and that paper's Post row never got committed."""
    ctx = context(settings)
    ctx.sleep = crash_after(3)
    with pytest.raises(KeyboardInterrupt):
        run(ctx)
    with ctx.sessions.begin() as s:
        s.execute(update(DigestRun).values(claimed_by="dead-worker", heartbeat_at=utcnow(), released=False))
        s.execute(delete(Post).where(Post.arxiv_id == paper_ids(slack)[2]))
    return ctx


def test_hard_kill_between_slack_and_commit_is_reconciled_without_duplicates(
    settings: Settings, slack: FakeSlack
) -> None:
    settings = settings.model_copy(update={"digest_size": 5})
    ctx = hard_kill_after_three_papers(settings, slack)
    busy = run(context(settings))
    assert busy.status == "busy" and len(paper_ids(slack)) == 3
    later = context(settings, clock=lambda: utcnow() + LEASE + timedelta(seconds=5))
    outcome = run(later)
    assert outcome.status == "resumed" and outcome.posted == 2
    assert sorted(paper_ids(slack)) == sorted(set(paper_ids(slack))) and len(paper_ids(slack)) == 5
    with ctx.sessions.begin() as s:
        assert len(s.scalars(select(Post)).all()) == 5


def test_two_replicas_racing_post_one_digest(settings: Settings, slack: FakeSlack) -> None:
    contexts = [context(settings) for _ in range(3)]
    barrier = threading.Barrier(len(contexts))
    outcomes: list[str] = []

    def replica(ctx: DigestContext) -> None:
        barrier.wait()
        outcomes.append(run(ctx).status)

    threads = [threading.Thread(target=replica, args=(c,)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("posted") == 1
    assert set(outcomes) <= {"posted", "busy", "already_done"}
    assert len(slack.posted(CHANNEL)) == 4 and len(set(paper_ids(slack))) == 3


def test_rate_limited_then_success_posts_everything_once(settings: Settings, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    outcome = run(context(settings))
    assert outcome.status == "posted"
    assert len(slack.posted(CHANNEL)) == 4 and len(slack.calls_to("chat.postMessage")) == 5


def test_not_in_channel_gives_an_operator_readable_error_and_no_retry_storm(
    settings: Settings, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", error="not_in_channel")
    outcome = run(context(settings))
    assert outcome.status == "failed"
    assert "invite the bot with /invite @paperbot to #C0001" in outcome.message
    # A scheduled run does not retry a failed run; the operator's explicit run (after inviting) does.
    assert run(context(settings), retry_failed=False).status == "failed"
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert run(context(settings)).status == "resumed"
    assert len(paper_ids(slack)) == 3


@pytest.fixture
def live_bot(db_url: str, slack: FakeSlack, hf: FakeHF) -> Iterator[tuple[Any, SlackSender]]:
    from bot.app import build_app
    from bot.deps import Deps
    from bot.server import HttpServer, make_wsgi

    settings = bot_settings(db_url, slack, hf_api_url=hf.url, digest_size=2)
    engine = make_engine(db_url)
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    server = HttpServer(make_wsgi(build_app(deps), engine), "127.0.0.1", 0).start()
    sender = SlackSender(server.url + "/slack/events")
    yield deps, sender
    sender.close()
    server.stop()
    engine.dispose()


def test_papers_digest_now_posts_and_replies_through_the_real_endpoint(
    live_bot: tuple[Any, SlackSender], slack: FakeSlack, hf: FakeHF
) -> None:
    from bot.choose import Prefs, newest_day

    _deps, sender = live_bot
    # The command posts the newest complete list, so the fake serves that day (whatever today is).
    day = newest_day(utcnow(), Prefs(TEAM_ID, CHANNEL, 2))
    hf.set_daily(day, [daily_item(f"2411.1000{i}", f"Now paper {i}", day, upvotes=i) for i in range(1, 4)])

    answer = sender.command("digest now", channel=CHANNEL, response_url=slack.response_url("now"))
    assert answer.status_code == 200 and "Posting" in answer.json()["text"]
    slack.wait_for(lambda: slack.responses)
    assert slack.responses[-1]["text"].startswith("Posted 2 papers")
    assert [m["text"][:14] for m in slack.posted(CHANNEL)[1:]] == ["1. Now paper 3", "2. Now paper 2"]

    sender.command("digest", channel=CHANNEL, response_url=slack.response_url("show"))
    slack.wait_for(lambda: len(slack.responses) == 2)
    assert "done, 2 paper(s) posted" in slack.responses[-1]["text"]

    sender.command("digest now", channel=CHANNEL, response_url=slack.response_url("again"))
    slack.wait_for(lambda: len(slack.responses) == 3)
    assert "nothing posted again" in slack.responses[-1]["text"]
    assert len(slack.posted(CHANNEL)) == 3


def test_papers_digest_with_a_wrong_argument_shows_the_usage(live_bot: tuple[Any, SlackSender]) -> None:
    answer = live_bot[1].command("digest tomorrow", channel=CHANNEL)
    assert "`digest` takes `now` or nothing" in answer.json()["text"]


def test_a_3000_character_abstract_and_a_title_full_of_markup_post_valid_messages(
    settings: Settings, slack: FakeSlack, hf: FakeHF
) -> None:
    from bot.blocks import validate

    title = "<script> & <b>bold</b> > `code` *stars* <!channel> & more"
    abstract = ("Long abstract sentence with words. " * 100)[:3000]
    hf.set_daily(DAY, [daily_item("2411.00042", title, DAY, upvotes=1, summary=abstract)])
    assert run(context(settings)).status == "posted"
    message = slack.posted(CHANNEL)[1]
    validate({"text": message["text"], "blocks": message["blocks"]})
    section = message["blocks"][0]["text"]["text"]
    assert "&lt;script&gt; &amp; &lt;b&gt;" in section and "<!channel>" not in section


def test_a_worker_whose_run_is_taken_over_between_two_posts_posts_nothing_more(
    settings: Settings, slack: FakeSlack
) -> None:
    ctx = context(settings)
    waits = {"n": 0}

    def another_worker_takes_over(_seconds: float) -> None:  # runs before each paper after the header
        waits["n"] += 1
        if waits["n"] == 2:
            with ctx.sessions.begin() as s:
                s.execute(update(DigestRun).values(claimed_by="rescuer", heartbeat_at=utcnow()))

    ctx.sleep = another_worker_takes_over
    outcome = run(ctx)
    assert outcome.status == "busy" and "took over" in outcome.message
    assert len(paper_ids(slack)) == 1  # the paper after the takeover was left to the rescuer


def test_a_5xx_after_slack_took_the_message_posts_no_duplicate(settings: Settings, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=500, commit=True)  # the header is posted, the answer lost
    slack.fail_next("chat.postMessage", status=503)  # the first paper is really not posted
    outcome = run(context(settings))
    assert outcome.status == "posted" and outcome.posted == 3
    ids = paper_ids(slack)
    assert len(slack.posted(CHANNEL)) == 4 and len(ids) == 3 and len(set(ids)) == 3
    assert len(slack.calls_to("chat.postMessage")) == 5  # only the paper Slack never took was sent again


def test_slack_unreachable_mid_digest_releases_the_claim_and_the_rerun_finishes(
    settings: Settings, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=500, times=10)  # Slack is down: posting and looking both fail
    slack.fail_next("conversations.history", status=500, times=10)
    failed = run(context(settings))
    assert failed.status == "failed" and "the next attempt resumes the digest" in failed.message
    assert slack.posted(CHANNEL) == []
    slack.failures.clear()
    assert run(context(settings)).status == "resumed"  # released: taken over at once, no lease to wait out
    assert len(slack.posted(CHANNEL)) == 4 and len(set(paper_ids(slack))) == 3


def test_a_stop_request_stops_between_posts_releases_the_claim_and_the_next_start_resumes(
    settings: Settings, slack: FakeSlack
) -> None:
    ctx = context(settings, stop=threading.Event())
    waits = {"n": 0}

    def shutdown_arrives(_seconds: float) -> None:
        waits["n"] += 1
        if waits["n"] == 2:
            ctx.stop.set()  # what SIGTERM does in `paperbot serve` (bot.digest.request_stop)

    ctx.sleep = shutdown_arrives
    stopped = run(ctx)
    assert stopped.status == "stopped" and "the next start posts the rest" in stopped.message
    assert len(paper_ids(slack)) == 1
    resumed = run(context(settings))  # no lease to wait out: the claim was released
    assert resumed.status == "resumed" and resumed.posted == 2
    assert len(slack.posted(CHANNEL)) == 4 and len(set(paper_ids(slack))) == 3


def test_a_late_resume_in_a_busy_channel_still_finds_the_dead_workers_message(
    settings: Settings, slack: FakeSlack
) -> None:
    settings = settings.model_copy(update={"digest_size": 5})
    hard_kill_after_three_papers(settings, slack)
    # An hour of chatter later: more messages than the history pages a resume reads from the newest.
    slack.messages[CHANNEL] += [
        {"type": "message", "text": f"chatter {n}", "ts": f"{slack.ts_base + 3600 + n}.0", "user": "U0009"}
        for n in range(1100)
    ]
    later = context(settings, clock=lambda: utcnow() + timedelta(hours=1))
    outcome = run(later)
    assert outcome.status == "resumed" and outcome.posted == 2
    assert len(paper_ids(slack)) == 5 and len(set(paper_ids(slack))) == 5


def _replica_process(db_url: str, slack_url: str, hf_url: str, barrier: Any, results: Any) -> None:
    """One `paperbot serve` replica in its own process: its own engine, client and worker id."""
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        slack_api_url=slack_url,
        hf_api_url=hf_url,
        digest_size=3,
    )
    ctx = context(settings)
    barrier.wait()
    results.put(run(ctx).status)
    ctx.sessions.kw["bind"].dispose()


def test_two_processes_racing_post_one_digest(settings: Settings, slack: FakeSlack, hf: FakeHF) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    replicas = [
        spawn.Process(target=_replica_process, args=(settings.database_url, slack.url, hf.url, barrier, results))
        for _ in range(2)
    ]
    for p in replicas:
        p.start()
    outcomes = sorted(results.get(timeout=60) for _ in replicas)
    for p in replicas:
        p.join(timeout=30)
    assert outcomes.count("posted") == 1 and set(outcomes) <= {"posted", "busy", "already_done"}
    assert len(slack.posted(CHANNEL)) == 4 and len(set(paper_ids(slack))) == 3


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long", "invalid_arguments"])
def test_a_message_slack_will_never_accept_fails_the_run_for_good_instead_of_retrying_all_day(
    settings: Settings, slack: FakeSlack, error: str
) -> None:
    slack.fail_next("chat.postMessage", error=error)
    outcome = run(context(settings))
    assert outcome.status == "failed" and not outcome.retryable
    assert error in outcome.message and "resumes" not in outcome.message
    with make_sessions(make_engine(settings.database_url)).begin() as s:
        stored = s.scalars(select(DigestRun)).one()
        assert stored.status == "failed" and error in (stored.error or "")
    # The scheduler's resume scan and its next runs leave it alone: no storm of identical failures.
    assert run(context(settings), retry_failed=False).status == "failed"
    assert len(slack.calls_to("chat.postMessage")) == 1


class TakeoverDuringSend(WebClient):
    """The real client; right after Slack accepts message number `at`, another worker takes the run over."""

    def __init__(self, settings: Settings, sessions: Any, at: int) -> None:
        super().__init__(token=BOT_TOKEN, base_url=settings.slack_api_url)
        self.sessions, self.at, self.sent = sessions, at, 0

    def chat_postMessage(self, **kwargs: Any) -> Any:
        response = super().chat_postMessage(**kwargs)
        self.sent += 1
        if self.sent == self.at:
            with self.sessions.begin() as s:
                s.execute(update(DigestRun).values(claimed_by="rescuer", heartbeat_at=utcnow()))
        return response


@pytest.mark.parametrize(("at", "papers"), [(1, 0), (4, 3)])  # during the header; during the last paper
def test_losing_the_claim_while_slack_takes_a_message_never_reports_it_posted(
    settings: Settings, slack: FakeSlack, at: int, papers: int
) -> None:
    ctx = context(settings)
    ctx.client = TakeoverDuringSend(settings, ctx.sessions, at)
    outcome = run(ctx)
    assert outcome.status == "busy" and "took over" in outcome.message and "Posted" not in outcome.message
    assert len(paper_ids(slack)) == papers
    with ctx.sessions.begin() as s:
        stored = s.scalars(select(DigestRun)).one()
        assert (stored.status, stored.claimed_by) == ("claimed", "rescuer")  # the rescuer finishes it


def test_a_resumed_run_skips_a_paper_another_days_digest_posted_meanwhile(
    settings: Settings, slack: FakeSlack, hf: FakeHF
) -> None:
    ctx = context(settings, stop=threading.Event())
    ctx.sleep = lambda _s: ctx.stop.set()  # shut down right after the header
    assert run(ctx).status == "stopped" and paper_ids(slack) == []
    next_day = DAY + timedelta(days=1)  # today's run, while yesterday's waits to be resumed
    hf.set_daily(next_day, [daily_item("2411.00002", "Paper 2", next_day, upvotes=99)])
    assert run_digest(context(settings), team_id=TEAM_ID, channel_id=CHANNEL, day=next_day).posted == 1
    resumed = run(context(settings))
    assert resumed.status == "resumed" and resumed.posted == 2 and "already posted" in resumed.message
    ids = paper_ids(slack)
    assert sorted(ids) == ["2411.00002", "2411.00004", "2411.00005"]  # 2411.00002 once, not twice


def test_ctrl_c_during_a_multi_channel_digest_stops_every_channel_between_posts(
    settings: Settings, slack: FakeSlack
) -> None:
    import signal

    from bot.digest import run_channels

    ctx = context(settings, stop=threading.Event())
    main = threading.main_thread().ident
    assert main is not None
    sent = {"n": 0}

    def ctrl_c_after_two_papers(_seconds: float) -> None:  # pacing waits run in the worker threads
        sent["n"] += 1
        if sent["n"] == 3:
            signal.pthread_kill(main, signal.SIGINT)  # what Ctrl-C does: only the main thread hears it
        if sent["n"] >= 3:
            ctx.stop.wait(5)  # a worker that is not told to stop keeps posting once this times out

    ctx.sleep = ctrl_c_after_two_papers
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_channels(ctx, [(TEAM_ID, "CA"), (TEAM_ID, "CB")], day=DAY)
    finally:
        signal.signal(signal.SIGINT, previous)
    posted = len(slack.posted("CA")) + len(slack.posted("CB"))
    assert posted < 8  # both channels stopped; uninterrupted, each would have its header and 3 papers
    with ctx.sessions.begin() as s:
        stored = s.scalars(select(DigestRun)).all()
        assert len(stored) == 2 and all(r.status == "claimed" and r.released for r in stored)
    resumed = [run_digest(context(settings), team_id=TEAM_ID, channel_id=c, day=DAY) for c in ("CA", "CB")]
    assert {o.status for o in resumed} == {"resumed"}
    assert len(slack.posted("CA")) == len(slack.posted("CB")) == 4


def test_papers_digest_now_on_the_stored_list_says_hugging_face_was_unreachable(
    settings: Settings, slack: FakeSlack, hf: FakeHF
) -> None:
    from datetime import UTC, datetime

    from bot.digest import digest_now

    assert run(context(settings)).status == "posted"  # DAY's list fetched and stored
    hf.fail_next("daily_papers", 400, times=5)  # then HF stops giving the list (a 4xx is not retried)
    wednesday_noon = datetime(2026, 11, 25, 12, tzinfo=UTC)  # in UTC: Tuesday's list is the newest complete one
    answer = digest_now(context(settings, clock=lambda: wednesday_noon), team_id=TEAM_ID, channel_id="C0002")
    assert answer == (
        f"Hugging Face is unreachable at {hf.url}; using the 5 papers stored for {DAY}. "
        f"Posted 3 papers of {DAY} to #C0002."
    )
    assert len(slack.posted("C0002")) == 4


def test_a_scheduled_run_whose_newest_list_was_posted_already_is_quiet(
    settings: Settings, slack: FakeSlack, hf: FakeHF, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    from datetime import UTC, datetime

    from bot.scheduler import JobContext, build_scheduler, install_context, run_scheduled_digest

    friday = date(2026, 11, 20)
    hf.set_daily(friday, [daily_item(f"2411.2000{i}", f"Friday {i}", friday, upvotes=i) for i in range(1, 5)])
    tokyo = settings.model_copy(update={"timezone": "Asia/Tokyo"})
    engine = make_engine(tokyo.database_url)
    sched = build_scheduler(engine)
    sched.start(paused=True)  # retries would be stored here; nothing fires on its own
    now = {"at": datetime(2026, 11, 23, 0, tzinfo=UTC)}  # Monday 09:00 in Tokyo, Sunday 19:00 in New York
    install_context(
        JobContext(
            deps=Deps.of(tokyo, make_sessions(engine)),
            client=make_client(tokyo, BOT_TOKEN),
            scheduler=sched,
            default_team=TEAM_ID,
            clock=lambda: now["at"],
            sleep=lambda _s: None,
        )
    )
    try:
        assert run_scheduled_digest(TEAM_ID, CHANNEL) == "posted"
        assert len(slack.posted(CHANNEL)) == 4 and "Friday, 20 November 2026" in slack.posted(CHANNEL)[0]["text"]
        now["at"] += timedelta(days=1)  # Tuesday 09:00 in Tokyo: Friday's is still the newest complete list
        fetches = len(hf.requests)
        caplog.clear()  # Monday's run warned that arXiv (unreachable here) could not enrich; Tuesday must be quiet
        with caplog.at_level(logging.INFO):
            assert run_scheduled_digest(TEAM_ID, CHANNEL) == "already_done"
        assert len(slack.posted(CHANNEL)) == 4 and len(hf.requests) == fetches  # no duplicate, not even a fetch
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        assert any("already posted" in r.getMessage() for r in caplog.records)
        assert sched.get_jobs() == []  # and no retry queued: nothing is wrong
    finally:
        install_context(None)
        sched.remove_all_jobs()
        sched.shutdown()
        engine.dispose()


class HoldingSlack(FakeSlack):
    """The loopback Slack, holding the chat.postMessage of paper number `hold_at` unanswered and unposted until
    `release` is set: the poster waits for Slack's answer while the test kills it."""

    def __init__(self, hold_at: int) -> None:
        super().__init__()
        self.hold_at, self.held, self.release = hold_at, threading.Event(), threading.Event()

    def handle(self, method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], Any]:
        payload = (params.get("metadata") or {}).get("event_payload") or {}
        if (
            method == "chat.postMessage"
            and "arxiv_id" in payload
            and not self.held.is_set()
            and len(paper_ids(self)) + 1 == self.hold_at
        ):
            self.held.set()
            self.release.wait(60)
            return 200, {}, {"ok": False, "error": "fatal_error"}  # never accepted; its poster is dead anyway
        return super().handle(method, params, token)


def test_sigkill_of_the_real_console_script_after_k_papers_then_a_rerun_posts_exactly_the_rest(
    db_url: str, hf: FakeHF, tmp_path: Any
) -> None:
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    n, k = len(UPVOTES), 2
    ranked = ["2411.00002", "2411.00005", "2411.00004", "2411.00001", "2411.00003"]
    slack = HoldingSlack(hold_at=k + 1).start()
    slack.ts_base = int(time.time())  # message ts on the real clock, as a resumed run's history bounds are
    paperbot = Path(sys.executable).with_name("paperbot")  # the installed console script
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PAPERBOT_", "SLACK_"))}
    env |= {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.url,
        "HF_API_URL": hf.url,
        "ARXIV_API_URL": "http://127.0.0.1:9/api/query",
        "PAPERBOT_LOG_LEVEL": "WARNING",
    }
    args = [str(paperbot), "digest", "--channel", CHANNEL, "--date", DAY.isoformat(), "--size", str(n)]
    try:
        proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert slack.held.wait(60), "the digest never reached paper k + 1"
            proc.send_signal(signal.SIGKILL)  # no handler runs: the claim stays held, nothing is released
            proc.communicate(timeout=20)
        finally:
            slack.release.set()
        assert proc.returncode == -signal.SIGKILL
        assert paper_ids(slack) == ranked[:k]

        busy = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert busy.returncode == 0 and "Another paperbot worker is posting" in busy.stdout, busy.stderr
        assert paper_ids(slack) == ranked[:k]  # the dead worker's lease still holds the run

        engine = make_engine(db_url)
        with make_sessions(engine).begin() as s:
            stored = s.scalars(select(DigestRun)).one()
            assert (stored.status, stored.released) == ("claimed", False)
            # Stands in for the lease running out (LEASE after the dead worker's last heartbeat), without waiting.
            s.execute(update(DigestRun).values(heartbeat_at=stored.heartbeat_at - LEASE - timedelta(seconds=5)))
        engine.dispose()
        rerun = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        assert f"Resumed the digest of {DAY} in #{CHANNEL}: posted the {n - k} remaining of {n} papers" in rerun.stdout
        # Exactly N - k more: no duplicate, no gap, in rank order, under the one header posted before the kill.
        assert paper_ids(slack) == ranked
        messages = slack.posted(CHANNEL)
        assert len(messages) == n + 1 and "Daily Papers" in messages[0]["blocks"][0]["text"]["text"]
        assert [m["text"].split(".")[0] for m in messages[1:]] == [str(i) for i in range(1, n + 1)]
    finally:
        slack.stop()


def test_a_topics_filter_matches_the_arxiv_categories_the_digest_fills_in(
    settings: Settings, slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    # Hugging Face lists carry no categories; arXiv knows two of the five papers as cs.CL.
    for arxiv_id, primary in (("2411.00001", "cs.CL"), ("2411.00003", "cs.CV"), ("2411.00004", "cs.CL")):
        fake_arxiv.papers[arxiv_id] = {
            "id": arxiv_id,
            "title": f"Paper {arxiv_id[-1]}",
            "summary": "Text.",
            "authors": ["A. Author"],
            "published": "2026-11-23",
            "primary": primary,
            "version": "v2",
            "doi": f"10.1000/{arxiv_id}",
        }
    ctx = context(settings.model_copy(update={"arxiv_api_url": fake_arxiv.url, "arxiv_enrich": True}))
    with ctx.sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id=CHANNEL, filters={"topics": ["cs.CL"]})
    outcome = run(ctx)
    assert outcome.status == "posted" and paper_ids(slack) == ["2411.00004", "2411.00001"]
    assert len(fake_arxiv.requests) == 1  # the whole list in one id_list request
    with ctx.sessions.begin() as s:
        stored = s.scalars(select(Paper).where(Paper.arxiv_id.in_(["2411.00001", "2411.00003"]))).all()
        assert {p.arxiv_id: (p.categories, p.doi) for p in stored} == {
            "2411.00001": (["cs.CL"], "10.1000/2411.00001"),
            "2411.00003": (["cs.CV"], "10.1000/2411.00003"),
        }


def test_arxiv_down_costs_the_digest_nothing_but_its_categories(
    settings: Settings, slack: FakeSlack, fake_arxiv: FakeArxiv, caplog: pytest.LogCaptureFixture
) -> None:
    fake_arxiv.fail_next(503, times=5)
    outcome = run(context(settings.model_copy(update={"arxiv_api_url": fake_arxiv.url, "arxiv_enrich": True})))
    assert outcome.status == "posted" and paper_ids(slack) == ["2411.00002", "2411.00005", "2411.00004"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "arXiv" in r.getMessage()]
    assert len(warnings) == 1 and "enrichment skipped for 5 papers" in warnings[0]


def test_paperbot_arxiv_enrich_0_keeps_the_digest_off_arxiv(
    settings: Settings, slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    outcome = run(context(settings.model_copy(update={"arxiv_api_url": fake_arxiv.url, "arxiv_enrich": False})))
    assert outcome.status == "posted" and outcome.posted == 3
    assert fake_arxiv.requests == []


def test_a_topics_filter_uses_categories_stored_earlier_when_arxiv_is_not_asked(
    settings: Settings, slack: FakeSlack
) -> None:
    ctx = context(settings.model_copy(update={"arxiv_enrich": False}))
    with ctx.sessions.begin() as s:  # what an earlier `paperbot fetch` or snapshot import stored
        upsert_papers(
            session=s,
            records=[
                PaperRecord(arxiv_id="2411.00001", title="Paper 1", categories=["cs.CL"], primary_category="cs.CL")
            ],
        )
        update_channel(session=s, team_id=TEAM_ID, channel_id=CHANNEL, filters={"topics": ["cs.CL"]})
    outcome = run(ctx)
    assert outcome.status == "posted" and paper_ids(slack) == ["2411.00001"]


def test_parallel_channels_take_turns_with_arxiv(
    settings: Settings, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each channel's digest enriches with a client of its own; the process-wide turn keeps arXiv's rule across
    them: one request at a time, spaced (here 0.3 s instead of 3 s)."""
    from bot import enrich
    from bot.sources import arxiv
    from bot.sources.hf import parse_items

    monkeypatch.setattr(arxiv, "TURNS", arxiv.Turns(0.3))  # real time here, unlike conftest's fake clock
    fake_arxiv.delay_next(0.2, times=3)  # slow answers: without the turn, the three requests would overlap
    lists = [parse_items([daily_item(f"2411.0000{i}", f"Paper {i}", DAY)]) for i in (1, 2, 3)]
    on = settings.model_copy(update={"arxiv_api_url": fake_arxiv.url, "arxiv_enrich": True})
    threads = [
        threading.Thread(target=enrich.enrich_from_arxiv, args=(on, records), kwargs={"quick": True})
        for records in lists
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_arxiv.requests) == 3 and fake_arxiv.max_in_flight == 1
    assert time.monotonic() - started >= 2 * 0.3 + 3 * 0.2  # two spacings and three answers, one after another
