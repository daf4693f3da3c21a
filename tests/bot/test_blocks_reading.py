"""Builders for Show details and Save: pure, within Slack's limits, escaped (the Home tab: test_blocks_home.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from bot import blocks
from tests.bot.test_blocks import FakePaper as BasePaper


@dataclass
class FakePaper(BasePaper):
    """The digest tests' paper plus the facts the details view shows."""

    hf_upvotes: int | None = 3
    published: date | None = date(2024, 10, 17)
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


@dataclass
class FakeActivity:
    votes: int = 0
    reactions: dict[str, int] = field(default_factory=dict)
    replies: int = 0
    channels: list[str] = field(default_factory=list)


def test_details_show_every_fact_and_the_team_line() -> None:
    paper = FakePaper(comments="12 pages", journal_ref="NeurIPS 2024", doi="10.1/abc")
    activity = FakeActivity(votes=3, reactions={"fire": 2, "+1": 1}, replies=1, channels=["C1", "C2"])
    payload = blocks.paper_details(paper, activity=activity, saved=True)
    blocks.validate(payload)
    shown = json.dumps(payload["blocks"])
    for expected in (
        "published 2024-10-17",
        "cs.LG",
        "NeurIPS 2024",
        "doi:10.1/abc",
        "12 pages",
        "Team: 3 votes",
        "1 reply",
        ":fire: 2",
        "<#C1>, <#C2>",
        "on your reading list",
    ):
        assert expected in shown, expected


def test_details_of_an_unposted_paper_say_so() -> None:
    shown = json.dumps(blocks.paper_details(FakePaper(), activity=FakeActivity(), saved=False)["blocks"])
    assert "Team: 0 votes" in shown and "0 replies" in shown
    assert "not posted here or in a public channel yet" in shown
    assert "reading list" not in shown


def test_details_keep_a_huge_abstract_and_hostile_text_within_limits() -> None:
    paper = FakePaper(
        title="<!channel> & *bold* | >", abstract="word " * 2000, comments="<@U1> " * 200, authors=["<!here>"] * 400
    )
    payload = blocks.paper_details(paper, activity=FakeActivity(), saved=False)
    blocks.validate(payload)
    shown = json.dumps(payload, ensure_ascii=False)
    assert "<!channel>" not in shown and "<!here>" not in shown and "<@U1>" not in shown
    assert "…" in shown  # the abstract was cut with an ellipsis


def test_a_star_in_a_title_does_not_end_the_bold() -> None:
    payload = blocks.paper_message(FakePaper(title="A* search revisited"))
    head = payload["blocks"][0]["text"]["text"]
    assert head.count("*") == 2  # only the bold markers
    assert "A∗ search revisited" in head


def test_save_reply_says_new_or_already() -> None:
    assert "Saved" in blocks.save_reply(FakePaper(), added=True)["text"]
    again = blocks.save_reply(FakePaper(), added=False)
    assert "already on your reading list" in json.dumps(again["blocks"])
    blocks.validate(again)
