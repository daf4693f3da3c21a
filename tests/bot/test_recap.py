"""The weekly recap on both databases, against the loopback Slack and Hugging Face: what it counts (this week, this
channel, people only), how it reads, that a quiet week posts nothing, and that it is posted once, also after a
crash between Slack's accept and our record."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import recap as recap_blocks
from bot.blocks import validate
from bot.config import Settings
from bot.deps import Deps, make_client
from bot.digest import DigestContext, DigestStatus
from bot.recap import parse_week, preview_recap, recap_week, run_recap, week_label, week_window
from storage import digests as runs
from storage.channels import ensure_workspace, update_channel
from storage.models import DigestRun, Reaction, Reply
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from storage.states import PostKind, RunKind, RunStatus
from tests.fakes.hf import FakeHF
from tests.fakes.slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack
from tests.running import bot_settings

HERE, ELSEWHERE = "CRECAP", "CPRIVATE"
MONDAY = date(2026, 11, 23)  # 2026-W48
VOTE = "+1"
UNIQUE = itertools.count(1)


def at(days: float, hours: float = 12) -> datetime:
    return datetime(2026, 11, 23, tzinfo=UTC) + timedelta(days=days, hours=hours)


def ts_at(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def vote(session: Session, channel: str, post_ts: str, arxiv_id: str, user: str, when: datetime) -> None:
    session.add(
        Reaction(
            team_id=TEAM_ID,
            channel_id=channel,
            message_ts=post_ts,
            user_id=user,
            emoji=VOTE,
            arxiv_id=arxiv_id,
            created_at=when,
        )
    )


def reply(
    session: Session, channel: str, post_ts: str, arxiv_id: str, user: str | None, when: datetime, **extra: Any
) -> None:
    session.add(
        Reply(
            team_id=TEAM_ID,
            channel_id=channel,
            thread_ts=post_ts,
            ts=f"{int(when.timestamp())}.{next(UNIQUE):06d}",  # two replies in one second are two messages
            user_id=user,
            text="a thought",
            arxiv_id=arxiv_id,
            **extra,
        )
    )


def seed(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Papers posted in HERE and ELSEWHERE with votes and replies this week, last week and by the bot; the post ts
    of each paper in HERE."""
    records = [PaperRecord(f"2611.0000{i}", f"Paper {name}", hf_upvotes=10 * i) for i, name in enumerate("ABCDE", 1)]
    posts = {"A": ts_at(at(0, 9)), "B": ts_at(at(1, 9)), "C": ts_at(at(-4, 9)), "E": ts_at(at(-5, 9))}
    with sessions.begin() as s:
        ensure_workspace(session=s, team_id=TEAM_ID).bot_user_id = BOT_USER_ID
        upsert_papers(session=s, records=records)
        ids = {name: f"2611.0000{i}" for i, name in enumerate("ABCDE", 1)}
        for name, ts in posts.items():
            record_post(session=s, team_id=TEAM_ID, channel_id=HERE, ts=ts, arxiv_id=ids[name], kind=PostKind.SHARE)
        d_ts = ts_at(at(0, 10))
        record_post(session=s, team_id=TEAM_ID, channel_id=ELSEWHERE, ts=d_ts, arxiv_id=ids["D"], kind=PostKind.SHARE)
        # A: three people vote this week, the bot too, and one more person last week.
        for user in ("U1", "U2", "U3", BOT_USER_ID):
            vote(s, HERE, posts["A"], ids["A"], user, at(1))
        vote(s, HERE, posts["A"], ids["A"], "U4", at(-1))
        reply(s, HERE, posts["A"], ids["A"], "U1", at(2))
        # B: one vote; replies by two people, one deleted, one by the bot, one next week.
        vote(s, HERE, posts["B"], ids["B"], "U1", at(2))
        for i, user in enumerate(("U1", "U2", "U3")):
            reply(s, HERE, posts["B"], ids["B"], user, at(2, 10 + i))
        reply(s, HERE, posts["B"], ids["B"], "U4", at(2, 14), deleted=True)
        reply(s, HERE, posts["B"], ids["B"], BOT_USER_ID, at(3))
        reply(s, HERE, posts["B"], ids["B"], "U1", at(8))
        # C: posted last week, discussed this week. E: active last week only. D: busy, but in another channel.
        reply(s, HERE, posts["C"], ids["C"], "U2", at(4))
        reply(s, HERE, posts["C"], ids["C"], "U3", at(5))
        vote(s, HERE, posts["E"], ids["E"], "U1", at(-3))
        for user in ("U1", "U2", "U3", "U5", "U6"):
            vote(s, ELSEWHERE, d_ts, ids["D"], user, at(1))
            reply(s, ELSEWHERE, d_ts, ids["D"], user, at(1))
        update_channel(session=s, team_id=TEAM_ID, channel_id=HERE, timezone="UTC", digest_enabled=False)
    return {name: ts for name, ts in posts.items()}


@pytest.fixture
def recap_settings(db_url: str, slack: FakeSlack, hf: FakeHF) -> Settings:
    return bot_settings(db_url, slack, hf_api_url=hf.url)


def context(
    settings: Settings, sessions: sessionmaker[Session], slack: FakeSlack | None, **extra: Any
) -> DigestContext:
    client = make_client(settings, BOT_TOKEN, idempotent_only=True) if slack is not None else None
    deps = Deps.of(settings, sessions)
    return DigestContext(deps=deps, client=client, pace=0, sleep=lambda _s: None, **extra)


def main_text(message: dict[str, Any]) -> str:
    return "\n".join(json.dumps(b, ensure_ascii=False) for b in message["blocks"])


# ---- pure pieces ------------------------------------------------------------------------------------------------


def test_weeks_are_parsed_and_named() -> None:
    assert parse_week("2026-W48") == MONDAY == parse_week(" 2026w48 ")
    assert parse_week("2026-W53") == date(2026, 12, 28)
    assert week_label(MONDAY) == "2026-W48"
    for bad, said in (
        ("2026-48", "is not an ISO week; write it as YYYY-Www"),
        ("last week", "is not an ISO week"),
        ("2027-W53", "2027-W53 is not a real week (2027 has 52 ISO weeks)"),
        ("2026-W00", "is not a real week"),
        ("0000-W01", "is not a real week"),
    ):
        with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)")):
            parse_week(bad)


def test_the_week_a_recap_covers_is_this_one_or_last_on_a_monday() -> None:
    assert recap_week(datetime(2026, 11, 27, 17, tzinfo=UTC), "UTC") == MONDAY  # Friday
    assert recap_week(datetime(2026, 11, 30, 9, tzinfo=UTC), "UTC") == MONDAY  # the next Monday: last week
    # Sunday 23:30 in UTC is already Monday in Tokyo: the recap there covers the week that just ended.
    assert recap_week(datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "Asia/Tokyo") == MONDAY
    start, end = week_window(MONDAY, "Europe/Berlin")
    assert (start, end) == (datetime(2026, 11, 22, 23, tzinfo=UTC), datetime(2026, 11, 29, 23, tzinfo=UTC))


def test_the_builder_ranks_and_threads_the_rest_and_is_valid_block_kit() -> None:
    papers = [recap_blocks.RecapPaper(f"2611.{i:05d}", f"P{i} <b>", votes=i % 4, replies=i % 3) for i in range(1, 9)]
    message = recap_blocks.recap_message(channel_id=HERE, monday=MONDAY, papers=papers)
    validate(message)
    text = main_text(message)
    assert "Weekly recap · 2026-W48 (23–29 Nov)" in text and "P3 &lt;b&gt;" in text and "<b>" not in text
    voted = [p.arxiv_id for p in recap_blocks.most_voted(papers)]
    assert voted[:4] == ["2611.00007", "2611.00003", "2611.00002", "2611.00006"]  # by votes, then replies
    assert recap_blocks.needs_details(papers)
    details = recap_blocks.recap_details(monday=MONDAY, papers=papers)
    validate(details)
    assert main_text(details).count("2611.0") >= 8 - 2  # every paper with activity (the two quiet ones too)
    assert recap_blocks.recap_setting(day=None, at=None, timezone="UTC").startswith("*Weekly recap*: off")


# ---- against the database and the loopback Slack ----------------------------------------------------------------


def test_the_recap_counts_this_weeks_activity_in_this_channel_only(
    recap_settings: Settings, sessions: sessionmaker[Session], slack: FakeSlack, hf: FakeHF
) -> None:
    posts = seed(sessions)
    hf.set_paper("2611.00001", {"id": "2611.00001", "title": "Paper A", "upvotes": 321})  # HF upvotes now, not stored
    outcome = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=MONDAY)
    assert outcome.status == DigestStatus.POSTED, outcome.message
    (message,) = slack.posted(HERE)
    validate({"text": message["text"], "blocks": message["blocks"]})
    text = main_text(message)
    assert "3 papers posted in <#CRECAP> got 4 votes and 6 replies this week." in text
    voted, discussed = message["blocks"][2]["text"]["text"], message["blocks"][3]["text"]["text"]
    permalink_a = f"https://fake.slack.test/archives/{HERE}/p{posts['A'].replace('.', '')}"
    assert voted.splitlines() == [
        "*Most voted*",
        f"1. *<https://huggingface.co/papers/2611.00001|Paper A>* · 3 votes · 1 reply · ▲ 321 on HF · "
        f"<{permalink_a}|thread>",
        f"2. *<https://huggingface.co/papers/2611.00002|Paper B>* · 1 vote · 3 replies · ▲ 20 on HF · "
        f"<https://fake.slack.test/archives/{HERE}/p{posts['B'].replace('.', '')}|thread>",
    ]
    assert [line.split("|")[1].split(">")[0] for line in discussed.splitlines()[1:]] == [
        "Paper B",
        "Paper C",
        "Paper A",
    ]
    assert "Paper D" not in text and "Paper E" not in text and ELSEWHERE not in text
    assert message["metadata"]["event_type"] == recap_blocks.RECAP_EVENT
    with sessions.begin() as s:
        run = s.scalars(select(DigestRun).where(DigestRun.kind == RunKind.RECAP)).one()
        assert (run.channel_id, run.digest_date, run.status, run.header_ts) == (
            HERE,
            MONDAY,
            RunStatus.DONE,
            message["ts"],
        )
    again = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=MONDAY)
    assert again.status == DigestStatus.ALREADY_DONE and len(slack.posted(HERE)) == 1


def test_a_quiet_week_posts_nothing_and_claims_nothing(
    recap_settings: Settings, sessions: sessionmaker[Session], slack: FakeSlack
) -> None:
    seed(sessions)
    quiet = MONDAY + timedelta(days=14)
    outcome = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=quiet)
    assert outcome.status == DigestStatus.EMPTY
    assert outcome.message == "No votes or replies in #CRECAP in 2026-W50; no recap posted."
    assert slack.posted(HERE) == []
    with sessions.begin() as s:
        assert s.scalars(select(DigestRun)).all() == []
    # A dead worker's claim on a week that has no activity (any more) is closed as empty, with nothing posted.
    with sessions.begin() as s:
        stale = datetime.now(UTC) - timedelta(hours=1)
        runs.claim_run(
            session=s,
            team_id=TEAM_ID,
            channel_id=HERE,
            day=quiet,
            worker="dead",
            plan=[],
            now=stale,
            kind=RunKind.RECAP,
        )
    closed = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=quiet)
    assert closed.status == DigestStatus.EMPTY and slack.posted(HERE) == []
    with sessions.begin() as s:
        assert [r.status for r in s.scalars(select(DigestRun))] == [RunStatus.EMPTY]
    # The private channel's busy week is no reason for a recap in a channel that had none.
    elsewhere = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id="CQUIET", monday=MONDAY)
    assert elsewhere.status == DigestStatus.EMPTY and slack.posted("CQUIET") == []


def test_a_long_week_threads_the_whole_ranking_under_the_message(
    recap_settings: Settings, sessions: sessionmaker[Session], slack: FakeSlack
) -> None:
    seed(sessions)
    with sessions.begin() as s:
        upsert_papers(session=s, records=[PaperRecord(f"2611.1{i:04d}", f"Extra {i}") for i in range(8)])
        for i in range(8):
            post_ts = ts_at(at(2, i))
            record_post(
                session=s, team_id=TEAM_ID, channel_id=HERE, ts=post_ts, arxiv_id=f"2611.1{i:04d}", kind="share"
            )
            vote(s, HERE, post_ts, f"2611.1{i:04d}", "U9", at(3))
    posted_before = REGISTRY.get_sample_value("paperbot_recap_messages_posted_total") or 0.0
    outcome = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=MONDAY)
    assert outcome.posted == 2
    assert REGISTRY.get_sample_value("paperbot_recap_messages_posted_total") == posted_before + 2  # /metrics
    main, details = slack.posted(HERE)
    assert details["thread_ts"] == main["ts"]
    assert "more papers in the thread" in main_text(main)
    assert main_text(details).count("huggingface.co/papers/2611.") == 11


def test_a_crashed_recap_is_taken_over_without_posting_twice(
    recap_settings: Settings, sessions: sessionmaker[Session], slack: FakeSlack
) -> None:
    """A worker claimed the week, Slack accepted its message, and it died before recording it: the next worker
    waits out the lease, finds the message by its metadata, and finishes without a second one."""
    seed(sessions)
    with sessions.begin() as s:
        upsert_papers(session=s, records=[PaperRecord(f"2611.1{i:04d}", f"Extra {i}") for i in range(8)])
        for i in range(8):
            post_ts = ts_at(at(2, i))
            record_post(
                session=s, team_id=TEAM_ID, channel_id=HERE, ts=post_ts, arxiv_id=f"2611.1{i:04d}", kind="share"
            )
            vote(s, HERE, post_ts, f"2611.1{i:04d}", "U9", at(3))
    crashed_at = datetime.now(UTC) - timedelta(minutes=30)
    slack.ts_base = int(crashed_at.timestamp())  # the dead worker's message was posted after its claim
    with sessions.begin() as s:
        claim = runs.claim_run(
            session=s,
            team_id=TEAM_ID,
            channel_id=HERE,
            day=MONDAY,
            worker="dead",
            plan=[],
            now=crashed_at,
            kind=RunKind.RECAP,
        )
        run_id = claim.run.id
    # What the dead worker got into the channel: its message (recorded nowhere), and no thread reply yet.
    client = make_client(recap_settings, BOT_TOKEN)
    client.chat_postMessage(
        **recap_blocks.recap_post(HERE, {"text": "recap", "blocks": []}, run_id=run_id, part="main")
    )
    busy = run_recap(
        context(recap_settings, sessions, slack, clock=lambda: crashed_at + timedelta(minutes=1)),
        team_id=TEAM_ID,
        channel_id=HERE,
        monday=MONDAY,
    )
    assert busy.status == DigestStatus.BUSY and len(slack.posted(HERE)) == 1  # the dead worker's lease still runs
    outcome = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=MONDAY)
    assert outcome.status == DigestStatus.RESUMED, outcome.message
    main, details = slack.posted(HERE)
    assert main["text"] == "recap" and details["thread_ts"] == main["ts"]  # the first message kept, not repeated
    with sessions.begin() as s:
        run = s.get(DigestRun, run_id)
        assert run is not None and (run.status, run.header_ts) == (RunStatus.DONE, main["ts"])
    # A third worker (another replica's resume job) finds it done and posts nothing.
    third = run_recap(context(recap_settings, sessions, slack), team_id=TEAM_ID, channel_id=HERE, monday=MONDAY)
    assert third.status == DigestStatus.ALREADY_DONE and len(slack.posted(HERE)) == 2


def test_a_recap_and_a_digest_of_the_same_monday_are_separate_runs(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        digest = runs.claim_run(session=s, team_id=TEAM_ID, channel_id=HERE, day=MONDAY, worker="w1", plan=["x"])
        recap = runs.claim_run(
            session=s, team_id=TEAM_ID, channel_id=HERE, day=MONDAY, worker="w2", plan=[], kind=RunKind.RECAP
        )
        assert digest.ours and recap.ours and digest.run.id != recap.run.id
        # The digest's own look-ups never see the recap's run.
        assert runs.last_run(session=s, team_id=TEAM_ID, channel_id=HERE) is not None
        assert runs.get_run(session=s, team_id=TEAM_ID, channel_id=HERE, day=MONDAY).plan == ["x"]  # type: ignore[union-attr]
        since = datetime(2000, 1, 1, tzinfo=UTC)
        assert [r.id for r in runs.unfinished_runs(session=s, since=since)] == [digest.run.id]
        assert [r.id for r in runs.unfinished_runs(session=s, since=since, kind=RunKind.RECAP)] == [recap.run.id]


def test_the_preview_needs_no_slack(db_url: str, slack: FakeSlack, sessions: sessionmaker[Session]) -> None:
    recap_settings = bot_settings(db_url, slack)  # HF at a port where nothing listens
    seed(sessions)
    outcome = preview_recap(context(recap_settings, sessions, None), team_id=TEAM_ID, channel_id=HERE, monday=MONDAY)
    assert outcome.status == DigestStatus.PREVIEW
    (payload,) = outcome.payloads
    assert payload["channel"] == HERE and "|thread>" not in main_text(payload)  # no Slack: no permalinks
    assert "▲ 10 on HF" in main_text(payload)  # HF did not answer: the stored count, and the note says so
    assert outcome.note == "Hugging Face did not answer: the HF upvotes shown are the ones paperbot stored."
