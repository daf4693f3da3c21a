"""Text a database cannot store (NUL, lone surrogates) reaching the bot in signed requests: stored cleaned on both
databases, never lost after the ack; an id longer than any Slack id is refused before the ack."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import Channel, Reply, Subscription
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

CHANNEL = "C0001"
POST_TS = "1764150001.000001"


@pytest.fixture
def posted(bot: RunningBot) -> RunningBot:
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id="2410.13732", title="Thinking LLMs")])
        record_post(
            session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=POST_TS, arxiv_id="2410.13732", kind="digest"
        )
    return bot


def reply_event(text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": CHANNEL,
        "user": "U0002",
        "text": text,
        "ts": ts,
        "thread_ts": POST_TS,
        "channel_type": "channel",
        "event_ts": ts,
    }


def stored_text(bot: RunningBot, slack: FakeSlack, ts: str) -> str:
    def text() -> str | None:
        with bot.deps.sessions.begin() as session:
            return session.scalars(select(Reply.text).where(Reply.ts == ts)).one_or_none()

    return slack.wait_for(text)


def answer(sender: SlackSender, slack: FakeSlack, text: str) -> dict[str, Any]:
    """The answer to `/papers <text>`: the ack's body when it carries one (a lookup ready in time), else the
    reply at the response_url."""
    key = f"k{len(slack.responses)}"
    acked = sender.command(text, response_url=slack.response_url(key))
    assert acked.status_code == 200
    if acked.content:
        body: dict[str, Any] = acked.json()
        return body
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def test_a_reply_with_a_lone_surrogate_and_a_nul_is_stored_cleaned(
    posted: RunningBot, sender: SlackSender, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack's JSON may carry "\ud800" (a lone surrogate): no driver can encode it, and the event was lost.
    assert sender.event(reply_event("half \ud800 a pair\x00!", "1764150100.000300")).status_code == 200
    assert stored_text(posted, slack, "1764150100.000300") == "half \ufffd a pair!"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_config_keywords_with_a_nul_are_stored_cleaned_and_answered(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    # PostgreSQL's jsonb refuses "\u0000": the command failed after its ack, with no answer.
    reply = answer(sender, slack, "config keywords diff\x00usion, agents")
    assert "keywords: diffusion, agents" in reply["text"]
    with bot.deps.sessions.begin() as session:
        channel = session.scalars(select(Channel).where(Channel.channel_id == CHANNEL)).one()
        assert channel.filters == {"keywords": ["diffusion", "agents"]}


def test_a_subscription_and_a_search_with_a_nul_are_answered(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    assert "diff" in answer(sender, slack, "subscribe diff\x00usion")["text"]
    with bot.deps.sessions.begin() as session:
        [text] = session.scalars(select(Subscription.text)).all()
    assert text.startswith("diff") and text.endswith("usion") and "\x00" not in text
    searched = answer(sender, slack, "search thin\x00king")
    assert searched["response_type"] == "ephemeral"


@pytest.mark.parametrize(
    "event",
    [
        reply_event("hello", "1764150100.000400") | {"channel": "C" * 40},
        reply_event("hello", "1764150100.000400") | {"user": "U" * 40},
        reply_event("hello", "1" * 40),
    ],
    ids=["channel", "user", "ts"],
)
def test_an_id_longer_than_any_slack_id_is_refused_before_the_ack(
    posted: RunningBot, sender: SlackSender, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    response = sender.event(event)
    assert response.status_code == 400
    [line] = [r for r in caplog.records if r.name == "bot.gate"]
    assert "longer than any Slack id" in line.getMessage()


def test_a_command_with_an_overlong_team_id_is_refused(sender: SlackSender, caplog: pytest.LogCaptureFixture) -> None:
    body = "command=%2Fpapers&text=help&team_id=" + "T" * 33
    assert sender.post(body, "application/x-www-form-urlencoded").status_code == 400
    assert "team_id is longer than any Slack id" in caplog.text


def test_an_event_envelope_with_ids_of_slacks_length_is_accepted(posted: RunningBot, sender: SlackSender) -> None:
    event = reply_event("fits", f"{int(time.time())}.000001") | {"channel": "C" * 32}
    assert sender.event(event).status_code == 200
    assert json.dumps(event)  # the payload was JSON all along
