"""bot/access.py's pieces that need no Slack: how long answers are kept, and what a settings change announces."""

from __future__ import annotations

from typing import Any

import pytest

from bot.access import Answers
from bot.blocks import config_announcement


def test_answers_are_kept_for_their_time_only() -> None:
    kept, gone = Answers(keep_seconds=3600), Answers(keep_seconds=-1)
    for answers in (kept, gone):
        answers.put(("members", "T1", "C1"), frozenset({"U1"}))
        answers.put(("admin", "T1", "U2"), False)
    assert kept.get(("members", "T1", "C1")) == frozenset({"U1"})
    assert kept.get(("admin", "T1", "U2")) is False  # a kept "no" is an answer too, not a miss
    assert kept.get(("members", "T1", "C2")) is None
    assert gone.get(("members", "T1", "C1")) is None and gone.get(("admin", "T1", "U2")) is None


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"digest_enabled": False}, "<@U1> turned the daily digest off in this channel."),
        ({"digest_enabled": True}, "<@U1> turned the daily digest on in this channel: at 08:00 (Asia/Tokyo)."),
        ({"digest_time": "08:00"}, "<@U1> moved this channel's daily digest to 08:00 (Asia/Tokyo)."),
        ({"timezone": "Asia/Tokyo"}, "<@U1> moved this channel's daily digest to 08:00 (Asia/Tokyo)."),
        ({"filters": {}}, "<@U1> changed this channel's digest filters to none."),
        ({"filters": {"authors": ["<@U9>"]}}, "<@U1> changed this channel's digest filters to authors: &lt;@U9&gt;."),
        ({"min_upvotes": None}, "<@U1> set the digest's minimum HF upvotes to none."),
        ({"min_upvotes": 5}, "<@U1> set the digest's minimum HF upvotes to 5."),
        ({"include_weekends": False}, "<@U1> turned weekend digests off in this channel."),
        ({"post_empty_notice": True}, "<@U1> turned the digest's no-papers notice on in this channel."),
        ({"digest_size": 12}, "<@U1> set this channel's digest to 12 papers."),
    ],
)
def test_every_change_is_announced_in_words(changes: dict[str, Any], said: str) -> None:
    assert config_announcement(user_id="U1", changes=changes, digest_time="08:00", timezone="Asia/Tokyo") == said
