"""A paper's picture (its Hugging Face thumbnail) on the digest message, the `show` card and Show details: the
title section's image accessory when the paper has a usable https picture, none otherwise, always valid Block Kit;
and the terminal preview says `[image]` where Slack shows it."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from bot.blocks import lookup, paper_details, paper_message, validate
from bot.preview import render
from storage.lookups import TeamActivity, Thread
from tests.bot.test_blocks_reading import FakeActivity
from tests.bot.test_blocks_reading import FakePaper as DetailedPaper

THUMB = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.13732.png"
TITLE = "Reducing the Transformer Architecture to a Minimum"


def card(thumbnail: str | None) -> dict[str, Any]:
    """`/papers show`'s card for a paper with this thumbnail, discussed once."""
    paper = SimpleNamespace(
        **{**DetailedPaper().__dict__, "thumbnail": thumbnail, "daily_date": None},
    )
    thread = Thread("C1", "1764150001.000001", "digest", datetime(2026, 11, 24, tzinfo=UTC), 1)
    found = SimpleNamespace(paper=paper, activity=TeamActivity(2, {"+1": 2}, 1, [thread]), permalinks={})
    return lookup.paper_card(found)


BUILDERS: dict[str, Callable[[str | None], dict[str, Any]]] = {
    "digest message": lambda thumb: paper_message(DetailedPaper(thumbnail=thumb), rank=1),
    "show card": card,
    "show details": lambda thumb: paper_details(DetailedPaper(thumbnail=thumb), activity=FakeActivity(), saved=False),
}


@pytest.mark.parametrize("view", list(BUILDERS))
def test_a_paper_with_a_thumbnail_shows_it_beside_its_title(view: str) -> None:
    payload = BUILDERS[view](THUMB)
    validate(payload)
    head = payload["blocks"][0]
    assert TITLE in head["text"]["text"]
    assert head["accessory"] == {"type": "image", "image_url": THUMB, "alt_text": TITLE}
    assert sum("accessory" in block for block in payload["blocks"]) == 1


@pytest.mark.parametrize("view", list(BUILDERS))
@pytest.mark.parametrize(
    "thumbnail",
    [None, "", "http://cdn.example/a.png", "https://cdn.example/" + "a" * 3000, "javascript:alert(1)"],
    ids=["none", "empty", "http", "too-long", "not-a-url"],
)
def test_a_paper_without_a_usable_thumbnail_has_no_image(view: str, thumbnail: str | None) -> None:
    payload = BUILDERS[view](thumbnail)
    validate(payload)
    assert not any("accessory" in block for block in payload["blocks"])


def test_the_alt_text_is_the_title_plain_bracket_safe_and_bounded() -> None:
    payload = paper_message(DetailedPaper(title="  A* & <b>\n Search  " + "x" * 3000, thumbnail=THUMB))
    validate(payload)
    alt = payload["blocks"][0]["accessory"]["alt_text"]
    # Plain text, not mrkdwn (no &amp;), its angle brackets made harmless so nothing in it can look like a link.
    assert alt.startswith("A* & ‹b› Search") and len(alt) <= 2000
    untitled = paper_message(DetailedPaper(title="", thumbnail=THUMB))
    assert untitled["blocks"][0]["accessory"]["alt_text"] == "2410.13732"


def rendered(payloads: list[dict[str, Any]], **kwargs: Any) -> str:
    out = io.StringIO()
    render(payloads, console=Console(file=out, width=100, color_system=None, force_terminal=False), **kwargs)
    return out.getvalue()


def test_the_preview_says_image_where_slack_shows_the_picture() -> None:
    screen = rendered([paper_message(DetailedPaper(thumbnail=THUMB), rank=1)])
    assert "[image]" in screen and TITLE[:30] in screen
    assert THUMB not in screen
    assert THUMB in rendered([paper_message(DetailedPaper(thumbnail=THUMB))], show_urls=True).replace("\n", "")
    assert "[image" not in rendered([paper_message(DetailedPaper())])
