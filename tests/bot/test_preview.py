"""The terminal preview shows what a digest would post, readable by a person (no Slack involved)."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from rich.console import Console

from bot.blocks import digest_header, paper_message
from bot.preview import mrkdwn, render
from storage.records import PaperRecord


def a_paper(**fields: Any) -> PaperRecord:
    """A paper as a source would hand it over (no database needed)."""
    values: dict[str, Any] = {
        "arxiv_id": "2410.13732",
        "title": "Reducing the Transformer",
        "authors": ["Ada"],
    }
    return PaperRecord(**{**values, **fields})


def rendered(payloads: list[dict[str, Any]], **kwargs: Any) -> str:
    """Render to plain text the way a terminal without colours would show it."""
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, force_terminal=False)
    render(payloads, console=console, **kwargs)
    return out.getvalue()


def test_a_digest_preview_shows_titles_links_buttons_and_the_note() -> None:
    paper = a_paper(
        title="Attention & Friends: <Minimal> Transformers",
        hf_upvotes=42,
        github_repo="https://github.com/acme/tool",
        github_stars=87,
    )
    payloads = [digest_header(day=date(2025, 11, 24), count=1), paper_message(paper, rank=1)]
    screen = rendered(payloads, note="Offline: showing the bundled sample papers.")
    assert screen.startswith("Offline: showing the bundled sample papers.")
    assert "Daily Papers · Monday, 24 November 2025" in screen
    assert "1. Attention & Friends: <Minimal> Transformers" in screen  # &amp; &lt; &gt; read as & < >
    assert "&amp;" not in screen and "&lt;" not in screen
    assert "arXiv 2410.13732 · PDF · GitHub ★ 87" in screen
    assert "▲ 42 upvotes" in screen
    assert "[ Save ] [ Show details ]" in screen
    assert "<https://" not in screen and "huggingface.co" not in screen  # labels, not link syntax
    assert "message 1 of 2" in screen and "message 2 of 2" in screen


def test_show_urls_prints_each_link_target_after_its_label() -> None:
    screen = rendered([paper_message(a_paper())], show_urls=True)
    assert "PDF (https://arxiv.org/pdf/2410.13732)" in screen


def test_a_hostile_title_previews_literally() -> None:
    paper = a_paper(title="<!channel> *bold* a_b | <@U1>")
    screen = rendered([paper_message(paper)])
    assert "<!channel> ∗bold∗ a_b ¦ <@U1>" in screen  # a `*` in a title would end the bold: U+2217


def test_mrkdwn_formatting_becomes_styles() -> None:
    text = mrkdwn("*bold* and _italic_ with <https://x.example|a link> &amp; `code` :fire: <@U1> <!here>")
    assert text.plain == "bold and italic with a link & code 🔥 @U1 @here"
    styles = {text.plain[span.start : span.end]: span.style for span in text.spans}
    assert styles["bold"].bold and styles["italic"].italic  # type: ignore[union-attr]
    assert styles["a link"].link == "https://x.example"  # type: ignore[union-attr]


def test_generic_blocks_fields_accessory_divider_and_unknown_types() -> None:
    payload = {
        "text": "fallback",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Pick *one*"},
                "fields": [{"type": "mrkdwn", "text": "*Votes*"}, {"type": "plain_text", "text": "12"}],
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open"},
                    "action_id": "o",
                },
            },
            {"type": "divider"},
            {"type": "input", "label": {"type": "plain_text", "text": "x"}},
        ],
    }
    screen = rendered([payload])
    assert "Pick one" in screen and "[ Open ]" in screen
    assert "Votes" in screen and "12" in screen
    assert "───" in screen
    assert "[input block]" in screen


def test_a_message_without_blocks_shows_its_text() -> None:
    screen = rendered([{"text": "just text &amp; more"}])
    assert "just text & more" in screen and "&amp;" not in screen
