"""`/papers subscribe`, `subscriptions` and `unsubscribe` through the signed HTTP endpoint, then the day's alert DM.

The lead registers these subcommands in handlers/commands.py's SUBCOMMANDS; until then this test adds them there."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.alerts import run_alerts
from bot.deps import make_client
from handlers import commands
from handlers.subscriptions import papers_subscribe, papers_subscriptions, papers_unsubscribe
from storage.papers import upsert_papers
from storage.records import PaperRecord
from tests.fakes.slack import BOT_TOKEN, FakeSlack, SlackSender
from tests.running import RunningBot

DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(commands.SUBCOMMANDS, "subscribe", papers_subscribe)
    monkeypatch.setitem(commands.SUBCOMMANDS, "unsubscribe", papers_unsubscribe)
    monkeypatch.setitem(commands.SUBCOMMANDS, "subscriptions", papers_subscriptions)


def papers(sender: SlackSender, slack: FakeSlack, text: str, user: str = "U0001") -> dict[str, Any]:
    key = f"r{len(slack.responses)}"
    assert sender.command(text, user=user, response_url=slack.response_url(key)).status_code == 200
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def test_subscribe_list_unsubscribe_and_the_alert_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    first = papers(sender, slack, "subscribe diffusion")
    assert first["response_type"] == "ephemeral" and first["text"].startswith("Subscribed (1 of 1): `diffusion`.")
    again = papers(sender, slack, "subscribe Diffusion")
    assert "already have this subscription (1 of 1)" in again["text"]
    papers(sender, slack, 'subscribe author:"Yann LeCun"')
    bad = papers(sender, slack, "subscribe autor:Hinton")
    assert "did you mean `author:`?" in bad["text"]
    listing = papers(sender, slack, "subscriptions")
    assert '1. `diffusion`\n2. `author:"Yann LeCun"`' in listing["text"]
    assert "no subscriptions" in papers(sender, slack, "subscriptions", user="U0002")["text"]  # only your own
    assert "no subscription 3 (you have only 2)" in papers(sender, slack, "unsubscribe 3")["text"]
    assert papers(sender, slack, "unsubscribe 2")["text"] == 'Unsubscribed from `author:"Yann LeCun"` (1 left).'

    slack.ts_base = int(NOW.timestamp())
    with bot.deps.sessions.begin() as s:
        records = [
            PaperRecord(arxiv_id="2411.00001", title="Latent Diffusion", hf_upvotes=9, daily_date=DAY),
            PaperRecord(arxiv_id="2411.00002", title="World Models", authors=["Yann LeCun"], daily_date=DAY),
        ]
        upsert_papers(session=s, records=records, seen_on=DAY)
    client = make_client(bot.deps.settings, BOT_TOKEN, idempotent_only=True)
    assert run_alerts(bot.deps, client, worker="w", clock=lambda: NOW).sent == 1
    [dm] = slack.posted("D0001")
    assert "Latent Diffusion" in str(dm["blocks"]) and "World Models" not in str(dm["blocks"])  # unsubscribed

    assert (
        papers(sender, slack, "unsubscribe all")["text"]
        == "Unsubscribed from `diffusion` (none left: no more alert DMs)."
    )
