"""The Home tab's builder: pure, valid Block Kit for Slack's views, paged within 100 blocks, escaped, pictured."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import blocks
from bot.blocks.home import paginate
from tests.bot.test_blocks import FakePaper as BasePaper

NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


@dataclass
class Paper(BasePaper):
    thumbnail: str | None = None


@dataclass
class Saved:
    paper: Paper
    read_at: datetime | None = None


@dataclass
class Vote:
    paper: Paper
    emoji: list[str]
    channel_id: str = "C1"
    at: datetime = NOW


@dataclass
class Top:
    paper: Paper
    votes: int
    replies: int


@dataclass
class Digest:
    channel_id: str
    at: datetime | None
    timezone: str = "Europe/Berlin"


@dataclass
class Home:
    saved: list[Saved] = field(default_factory=list)
    unread: int = 0
    votes: list[Vote] = field(default_factory=list)
    top: list[Top] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    digests: list[Digest] = field(default_factory=list)


def shown(view: dict[str, object]) -> str:
    return json.dumps(view, ensure_ascii=False)


def mrkdwn(view: dict[str, Any]) -> list[str]:
    """Every string Slack parses as mrkdwn in a view: section texts and context elements."""
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    return texts + [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]


def test_an_empty_home_is_valid_and_says_what_to_do() -> None:
    view = blocks.home_view(Home())
    blocks.validate_view(view)
    text = shown(view)
    assert "Nothing saved yet" in text and "No votes yet" in text and "No votes or replies yet" in text
    assert "Your subscriptions" not in text  # only when there are some
    assert view["private_metadata"] == "0"


def test_every_part_is_shown() -> None:
    berlin = datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    home = Home(
        saved=[Saved(Paper(arxiv_id="2401.00001", title="Unread one")), Saved(Paper(title="Read one"), read_at=NOW)],
        unread=1,
        votes=[Vote(Paper(title="Voted paper"), ["+1", "fire"], "C7")],
        top=[Top(Paper(title="Top paper", hf_upvotes=42), votes=3, replies=2)],
        subscriptions=['diffusion author:"Yann LeCun"'],
        digests=[Digest("C9", berlin)],
    )
    view = blocks.home_view(home)
    blocks.validate_view(view)
    text = shown(view)
    assert "Top paper" in text and "3 votes · 2 replies · ▲ 42" in text
    assert ":+1: :fire:" in text and "<#C7>" in text and "Voted paper" in text
    assert "diffusion author:" in text and "/papers unsubscribe" in text
    assert "<#C9> · next digest <!date^" in text and "Fri 04 Dec 09:00 Europe/Berlin" in text
    assert "2 papers · 1 unread" in text
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    values = [(e["action_id"], e["value"]) for b in actions for e in b["elements"]]
    assert (blocks.READ_ACTION, "2401.00001") in values  # unread: Mark read
    assert (blocks.UNREAD_ACTION, "2410.13732") in values  # read: Mark unread
    assert (blocks.UNSAVE_ACTION, "2410.13732") in values


def test_more_than_a_hundred_blocks_are_paged_and_every_page_is_valid() -> None:
    saved = [Saved(Paper(arxiv_id=f"2401.{i:05d}", title=f"Paper {i}")) for i in range(150)]
    first = blocks.home_view(Home(saved=saved, unread=150))
    pages = int(json.dumps(first).split("Page 1 of ")[1][0])
    assert pages >= 3
    seen: list[str] = []
    for page in range(pages):
        view = blocks.home_view(Home(saved=saved, unread=150), page=page)
        blocks.validate_view(view)
        assert len(view["blocks"]) <= 100 and view["private_metadata"] == str(page)
        nav = view["blocks"][-1]
        names = [e["action_id"] for e in nav["elements"]]
        assert (blocks.PREVIOUS_ACTION in names) == (page > 0)
        assert (blocks.NEXT_ACTION in names) == (page < pages - 1)
        seen += [
            e["value"]
            for b in view["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == blocks.UNSAVE_ACTION
        ]
    assert seen == [s.paper.arxiv_id for s in saved]  # every paper once, in order, across the pages
    last = blocks.home_view(Home(saved=saved), page=99)  # past the end: the last page
    assert last["private_metadata"] == str(pages - 1)


def test_a_hostile_title_is_escaped_everywhere() -> None:
    evil = Paper(title="<!channel> & <https://evil.test|click> *x*", thumbnail="https://img.test/a.png")
    home = Home(saved=[Saved(evil)], votes=[Vote(evil, ["+1"])], top=[Top(evil, 1, 0)], subscriptions=["<!here> `x`"])
    view = blocks.home_view(home)
    blocks.validate_view(view)
    text = "\n".join(mrkdwn(view))  # an image's alt text is plain text: Slack does not parse it
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil.test" not in text
    assert text.count("&lt;!channel&gt; &amp;") == 3  # the reading list, the votes, the top papers


def test_a_thumbnail_is_the_papers_picture_only_when_https() -> None:
    pictured = Paper(arxiv_id="2401.00001", title="With picture", thumbnail="https://cdn.test/t.png")
    plain = Paper(arxiv_id="2401.00002", title="Http picture", thumbnail="http://cdn.test/t.png")
    none = Paper(arxiv_id="2401.00003", title="No picture")
    home = Home(saved=[Saved(pictured), Saved(plain), Saved(none)], top=[Top(pictured, 2, 0), Top(plain, 1, 0)])
    view = blocks.home_view(home)
    blocks.validate_view(view)
    images = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert images == [{"type": "image", "image_url": "https://cdn.test/t.png", "alt_text": "With picture"}] * 2


def test_page_of_reads_only_a_small_number() -> None:
    assert blocks.page_of("3") == 3
    for odd in (None, "", "-1", "x", "99999", 7, "\x00"):
        assert blocks.page_of(odd) == 0


def test_paginate_keeps_groups_together() -> None:
    one, two, three, four, five = ({"type": "divider", "block_id": str(n)} for n in range(1, 6))
    assert paginate([[one, two], [three], [four, five]], 3) == [[one, two, three], [four, five]]
    assert paginate([], 3) == [[]]


@pytest.mark.parametrize(
    ("view", "why"),
    [
        ({"type": "home", "blocks": []}, "1 to 100 blocks"),
        ({"type": "modal", "blocks": [{"type": "divider"}]}, "of type home"),
        ({"type": "home", "blocks": [{"type": "divider"}] * 101}, "1 to 100 blocks"),
        ({"type": "home", "blocks": [{"type": "divider"}], "private_metadata": "x" * 3001}, "private_metadata"),
        ({"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}]}, "non-empty"),
        (
            {"type": "home", "blocks": [{"type": "actions", "elements": [blocks.home_view(Home())["blocks"][0]]}]},
            "block 0",
        ),
    ],
)
def test_validate_view_refuses_what_slack_would(view: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        blocks.validate_view(view)
