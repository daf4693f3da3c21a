"""Slack's rate limits as the digest meets them: a 429 is waited out for as long as Retry-After says and the
message then goes once; each channel is paced on its own while several channels post at the same time.

The real WebClient against the loopback Slack (which stamps every request's arrival), the real HF client against
the loopback HF, and the database on SQLite and PostgreSQL. Times are only ever checked as lower bounds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from itertools import pairwise

import pytest

from bot.config import Settings
from bot.deps import Deps, make_client
from bot.digest import DigestContext, run_channels, run_digest
from storage.db import make_engine, make_sessions
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, Call, FakeSlack
from tests.running import bot_settings

DAY = date(2026, 11, 24)
PAPERS = [f"2411.0100{n}" for n in range(1, 7)]  # upvotes 60, 50, ... 10: this is also their rank order


@pytest.fixture
def hf() -> Iterator[FakeHF]:
    fake = FakeHF().start()
    fake.set_daily(DAY, [daily_item(a, f"Paper {a[-1]}", DAY, upvotes=70 - 10 * n) for n, a in enumerate(PAPERS, 1)])
    yield fake
    fake.stop()


@pytest.fixture
def settings(db_url: str, slack: FakeSlack, hf: FakeHF) -> Settings:
    slack.ts_base = int(time.time())
    return bot_settings(db_url, slack, hf_api_url=hf.url, digest_size=4)


@pytest.fixture
def digest_ctx(settings: Settings) -> Iterator[DigestContext]:
    engine = make_engine(settings.database_url)
    yield DigestContext(
        deps=Deps.of(settings, make_sessions(engine)), client=make_client(settings, BOT_TOKEN, idempotent_only=True)
    )
    engine.dispose()


def paper_of(call: Call) -> str:
    """The arXiv id a chat.postMessage call carried in its metadata ("" for the header)."""
    metadata = call.params["metadata"]  # a JSON body carries it as an object, a form body as a string
    payload = (json.loads(metadata) if isinstance(metadata, str) else metadata)["event_payload"]
    return str(payload.get("arxiv_id", ""))


def test_a_429_is_waited_out_as_retry_after_says_then_the_digest_completes_once(
    digest_ctx: DigestContext, slack: FakeSlack
) -> None:
    waits = {"n": 0}

    def limit_the_second_paper(_seconds: float) -> None:  # the pacing wait before each paper, not slept here
        waits["n"] += 1
        if waits["n"] == 2:
            # 2 s: without the header the SDK would wait 1-2 s anyway, so only Retry-After explains >= 2 s.
            slack.fail_next("chat.postMessage", status=429, retry_after=2)

    digest_ctx.sleep = limit_the_second_paper
    outcome = run_digest(digest_ctx, team_id=TEAM_ID, channel_id="CLIMIT", day=DAY)
    assert outcome.status == "posted" and outcome.posted == 4

    calls = slack.calls_to("chat.postMessage")
    assert [paper_of(c) for c in calls] == ["", PAPERS[0], PAPERS[1], PAPERS[1], PAPERS[2], PAPERS[3]]
    refused, retried = calls[2], calls[3]
    assert retried.at - refused.at >= 2.0  # Retry-After honoured before the same message went again
    # Slack took each message once: the header and four papers, in rank order, nothing twice.
    posted = slack.posted("CLIMIT")
    assert len(posted) == 5
    assert [m["text"][:3] for m in posted[1:]] == ["1. ", "2. ", "3. ", "4. "]
    assert [m["metadata"]["event_payload"].get("arxiv_id") for m in posted[1:]] == PAPERS[:4]


def test_two_channels_post_at_the_same_time_each_paced_and_in_rank_order(
    digest_ctx: DigestContext, slack: FakeSlack
) -> None:
    pace = 0.25
    digest_ctx.pace, digest_ctx.sleep = pace, time.sleep  # real waits, shorter than Slack's second
    outcomes = run_channels(digest_ctx, [(TEAM_ID, "CALPHA"), (TEAM_ID, "CBETA")], day=DAY)
    assert [(o.channel_id, o.status, o.posted) for o in outcomes] == [("CALPHA", "posted", 4), ("CBETA", "posted", 4)]

    calls = slack.calls_to("chat.postMessage")  # in the order they reached Slack
    order = [c.params["channel"] for c in calls]
    assert sorted(order) == ["CALPHA"] * 5 + ["CBETA"] * 5
    # In parallel: each channel's first message reached Slack before the other channel's last one, so the
    # two digests interleave instead of one waiting for the other to finish.
    for one, other in (("CALPHA", "CBETA"), ("CBETA", "CALPHA")):
        assert order.index(one) < len(order) - 1 - order[::-1].index(other), order

    for channel in ("CALPHA", "CBETA"):
        mine = [c for c in calls if c.params["channel"] == channel]
        assert [paper_of(c) for c in mine] == ["", *PAPERS[:4]]  # the header, then the papers by rank
        gaps = [later.at - earlier.at for earlier, later in pairwise(mine)]
        assert min(gaps) >= pace, gaps  # this channel's own pace, whatever the other channel does
        assert [m["text"][:3] for m in slack.posted(channel)[1:]] == ["1. ", "2. ", "3. ", "4. "]
