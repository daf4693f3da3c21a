"""Papers with their pictures, end to end: the digest posts each paper's Hugging Face thumbnail as its title
section's image accessory (none for a paper without one), through the real WebClient and the loopback Slack, on
both databases; a picture Slack cannot fetch costs the paper its picture, not its message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.blocks import validate
from tests.e2e import test_digest_e2e as digest_e2e
from tests.e2e.test_digest_e2e import CHANNEL, DAY, context, run
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import FakeSlack

settings = digest_e2e.settings  # the digest tests' fixture, on this module's `hf`
PICTURED, BARE, INSECURE = "2411.00001", "2411.00002", "2411.00003"


def thumb(arxiv_id: str) -> str:
    return f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png"


@pytest.fixture
def hf() -> Iterator[FakeHF]:
    fake = FakeHF().start()
    items = [daily_item(i, f"Paper {i[-1]}", DAY, upvotes=10 - n) for n, i in enumerate((PICTURED, BARE, INSECURE))]
    del items[1]["thumbnail"]
    items[2]["thumbnail"] = f"http://insecure.example/{INSECURE}.png"
    fake.set_daily(DAY, items)
    yield fake
    fake.stop()


def paper_messages(slack: FakeSlack) -> dict[str, dict[str, Any]]:
    """arXiv id -> the paper's message as Slack stored it."""
    return {
        m["metadata"]["event_payload"]["arxiv_id"]: m
        for m in slack.posted(CHANNEL)
        if "arxiv_id" in m.get("metadata", {}).get("event_payload", {})
    }


def test_each_digest_paper_carries_its_picture_and_one_without_carries_none(settings: Any, slack: FakeSlack) -> None:
    assert run(context(settings)).status == "posted"
    posted = paper_messages(slack)
    assert set(posted) == {PICTURED, BARE, INSECURE}
    for message in posted.values():
        validate({"text": message["text"], "blocks": message["blocks"]})
    head = posted[PICTURED]["blocks"][0]
    assert head["accessory"] == {"type": "image", "image_url": thumb(PICTURED), "alt_text": "Paper 1"}
    assert all("accessory" not in b for b in posted[BARE]["blocks"])
    assert all("accessory" not in b for b in posted[INSECURE]["blocks"])  # http:// is refused


def test_a_picture_slack_cannot_fetch_costs_the_paper_its_picture_not_its_message(
    settings: Any, slack: FakeSlack
) -> None:
    slack.unfetchable_images.add(thumb(PICTURED))
    outcome = run(context(settings))
    assert outcome.status == "posted" and outcome.posted == 3
    posted = paper_messages(slack)
    assert all("accessory" not in b for b in posted[PICTURED]["blocks"])
    assert "Paper 1" in posted[PICTURED]["blocks"][0]["text"]["text"]
