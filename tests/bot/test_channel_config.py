"""`/papers config` parsing: every setting, friendly refusals, filters replacing only their own kind."""

from __future__ import annotations

import pytest

from bot.channel_config import ConfigUsageError, parse_config


@pytest.mark.parametrize(
    ("text", "changes"),
    [
        ("digest on", {"digest_enabled": True}),
        ("digest OFF", {"digest_enabled": False}),
        ("time 7:05", {"digest_time": "07:05"}),
        ("timezone Europe/Berlin", {"timezone": "Europe/Berlin"}),
        ("tz America/New_York", {"timezone": "America/New_York"}),
        ("size 5", {"digest_size": 5}),
        ("min-upvotes 10", {"min_upvotes": 10}),
        ("min-upvotes off", {"min_upvotes": None}),
        ("weekends yes", {"include_weekends": True}),
        ("empty-notice on", {"post_empty_notice": True}),
        (
            "keywords diffusion, RL ,, agents",
            {"filters": {"authors": ["Hinton"], "keywords": ["diffusion", "RL", "agents"]}},
        ),
        ("authors off", {"filters": {}}),
        ("topics cs.CL", {"filters": {"authors": ["Hinton"], "topics": ["cs.CL"]}}),
    ],
)
def test_each_setting_parses(text: str, changes: dict[str, object]) -> None:
    assert parse_config(text, filters={"authors": ["Hinton"]}) == changes


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("size 0", "from 1 to 40"),
        ("size many", "from 1 to 40"),
        ("size ²", "from 1 to 40"),
        ("time 25:00", "HH:MM"),
        ("timezone Mars/Olympus", "IANA time zone"),
        ("weekends sometimes", "`on` or `off`"),
        ("colour blue", "I don't know the setting `colour`"),
        ("size", "`size` needs a value"),
        ("min-upvotes -3", "whole number"),
    ],
)
def test_bad_settings_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ConfigUsageError, match=says.replace("(", r"\(")):
        parse_config(text, filters={})
