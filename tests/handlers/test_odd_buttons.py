"""Buttons whose payload Slack would never send as we built it (a null, missing or odd `value`, no `actions`):
every action listener acks at once and answers kindly, never a 404 after Slack's 3 seconds."""

from __future__ import annotations

import json
import logging
import time
from functools import partial
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.blocks import digest as digest_blocks
from bot.blocks import home as home_blocks
from bot.blocks import lookup as lookup_blocks
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

ACTIONS = [
    digest_blocks.SAVE_ACTION,
    digest_blocks.DETAILS_ACTION,
    home_blocks.UNSAVE_ACTION,
    home_blocks.READ_ACTION,
    home_blocks.UNREAD_ACTION,
    home_blocks.NEXT_ACTION,
    home_blocks.PREVIOUS_ACTION,
    lookup_blocks.SHOW_ACTION,
    lookup_blocks.SHARE_ACTION,
    lookup_blocks.MORE_ACTION,
]
ODD_VALUES: list[Any] = [None, "", 42, {"arxiv": "2410.13732"}, ["x"], "\x00\ud800", "x" * 5000]
MISSING = object()


def click(sender: SlackSender, action_id: str, value: Any, response_url: str) -> Any:
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "type": "button", "action_ts": str(time.time())}
    if value is not MISSING:
        action["value"] = value
    payload = {
        "type": "block_actions",
        "user": {"id": "U0001", "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": "fake"},
        "api_app_id": "A0001",
        "channel": {"id": "C0001"},
        "container": {"type": "message", "message_ts": "1764150001.000001", "channel_id": "C0001"},
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "actions": [action],
    }
    return sender.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def published_more_than(slack: FakeSlack, count: int) -> bool:
    return len(slack.calls_to("views.publish")) > count


def answered(slack: FakeSlack, key: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((r for r in slack.responses if r["key"] == key), None)

    return slack.wait_for(found)


@pytest.mark.parametrize("action_id", ACTIONS)
def test_a_button_with_an_odd_value_is_acked_and_answered_kindly(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, caplog: pytest.LogCaptureFixture, action_id: str
) -> None:
    caplog.set_level(logging.WARNING)
    for n, value in enumerate([*ODD_VALUES, MISSING]):
        key = f"{action_id}-{n}"
        response = click(sender, action_id, value, slack.response_url(key))
        assert response.status_code == 200, (value, response.text)
        if action_id.startswith(("paper_unsave", "home_")):  # the Home tab's buttons answer by redrawing it
            slack.wait_for(partial(published_more_than, slack, n))
            continue
        answer = answered(slack, key)
        assert answer.get("response_type", "ephemeral") == "ephemeral"
        assert "went wrong" not in json.dumps(answer)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


def test_a_save_with_a_null_value_says_which_command_to_use(sender: SlackSender, slack: FakeSlack) -> None:
    assert click(sender, digest_blocks.SAVE_ACTION, None, slack.response_url("null")).status_code == 200
    assert "/papers show" in answered(slack, "null")["text"]
