"""The digest's Block Kit builders: pure functions, tested on plain data without Slack or mocks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks import (
    FALLBACK_LIMIT,
    SECTION_LIMIT,
    digest_header,
    digest_post,
    empty_digest,
    lookup,
    paper_message,
    validate,
)
from storage.lookups import TeamActivity, Thread
from storage.models import Paper

DAY = date(2025, 11, 24)
HOSTILE = "<!channel> & <script>alert(1)</script> | <@U123> > <https://evil.example|click>"


@dataclass
class FakePaper:
    """A plain paper with the attributes the builders read (no database needed)."""

    arxiv_id: str = "2410.13732"
    title: str = "Reducing the Transformer Architecture to a Minimum"
    authors: list[str] = field(default_factory=lambda: ["Ada Lovelace", "Alan Turing"])
    abstract: str | None = "Transformers are everywhere. We remove the MLP. It still works."
    ai_summary: str | None = None
    hf_upvotes: int | None = None
    hf_comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    thumbnail: str | None = None


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every string Slack parses as mrkdwn in a payload: the fallback, section texts, context elements."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        if block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


def angle_segments(text: str) -> list[str]:
    """What Slack would treat as special `<...>` syntax (links, mentions) in mrkdwn."""
    return re.findall(r"<([^>]*)>", text)


def assert_no_injection(payload: dict[str, Any]) -> None:
    """Only our own http(s) links use `<...>`; no mention, no broken or doubled link syntax."""
    for text in mrkdwn_texts(payload):
        assert text.count("<") == text.count(">") == len(angle_segments(text))
        for segment in angle_segments(text):
            assert segment.startswith(("https://", "http://")), segment
            assert segment.count("|") == 1, segment


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_paper_message_shows_title_link_authors_summary_and_buttons() -> None:
    paper = FakePaper(
        hf_upvotes=42,
        hf_comments=3,
        github_repo="https://github.com/acme/minimal-transformer",
        github_stars=1234,
        project_page="https://acme.example/minimal",
        ai_summary="Attention alone, without MLPs, matches the original on MNIST and CIFAR-10.",
    )
    payload = paper_message(paper, rank=2)
    validate(payload)
    head = payload["blocks"][0]["text"]["text"]
    assert head.startswith("*2. <https://huggingface.co/papers/2410.13732|Reducing the Transformer")
    assert "Ada Lovelace, Alan Turing" in head
    links, stats = payload["blocks"][2]["elements"]
    assert "<https://arxiv.org/abs/2410.13732|arXiv 2410.13732>" in links["text"]
    assert "<https://arxiv.org/pdf/2410.13732|PDF>" in links["text"]
    assert "<https://github.com/acme/minimal-transformer|GitHub ★ 1.2k>" in links["text"]
    assert "<https://acme.example/minimal|Project page>" in links["text"]
    assert stats["text"] == "▲ 42 upvotes · 💬 3 comments"
    assert payload["blocks"][1]["text"]["text"].startswith("Attention alone")
    buttons = payload["blocks"][-1]["elements"]
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Save", "paper_save", "2410.13732"),
        ("Show details", "paper_details", "2410.13732"),
    ]
    assert payload["text"].startswith("2. Reducing the Transformer")


def test_paper_message_accepts_the_orm_paper() -> None:
    paper = Paper(arxiv_id="hep-th/9901001", title="Old style", authors=["Someone"], hf_upvotes=1)
    payload = paper_message(paper)
    validate(payload)
    assert "<https://huggingface.co/papers/hep-th/9901001|Old style>" in payload["blocks"][0]["text"]["text"]
    assert "▲ 1 upvote" in all_text(payload) and "upvotes" not in all_text(payload)


def test_missing_optional_fields_are_left_out_not_printed_as_none() -> None:
    paper = FakePaper(authors=[], abstract=None)
    payload = paper_message(paper)
    validate(payload)
    text = all_text(payload)
    assert "None" not in text and "null" not in text
    assert "GitHub" not in text and "Project page" not in text and "upvote" not in text
    assert [b["type"] for b in payload["blocks"]] == ["section", "context", "actions"]
    assert len(payload["blocks"][1]["elements"]) == 1  # links only, no empty stats element


def test_github_stars_unknown_and_short_repo_names() -> None:
    payload = paper_message(FakePaper(github_repo="acme/tool"))
    assert "<https://github.com/acme/tool|GitHub>" in all_text(payload)


def test_a_blank_title_falls_back_to_the_arxiv_id() -> None:
    payload = paper_message(FakePaper(title="  \n "))
    validate(payload)
    assert "|2410.13732>" in payload["blocks"][0]["text"]["text"]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, None),
        (1, "Author 0"),
        (3, "Author 0, Author 1, Author 2"),
        (10, "Author 0, Author 1, Author 2 et al."),
    ],
)
def test_authors_show_the_first_three_then_et_al(count: int, expected: str | None) -> None:
    payload = paper_message(FakePaper(authors=[f"Author {i}" for i in range(count)]))
    validate(payload)
    head = payload["blocks"][0]["text"]["text"]
    if expected is None:
        assert "\n" not in head and "Author" not in all_text(payload)
    else:
        assert head.split("\n")[1] == expected
        assert "Author 3" not in all_text(payload)


def test_a_3000_character_abstract_shows_its_first_sentences() -> None:
    sentence = "We study a very long problem with many words in it and find surprising things. "
    abstract = (sentence * 40)[:3000]
    payload = paper_message(FakePaper(abstract=abstract))
    validate(payload)
    summary = payload["blocks"][1]["text"]["text"]
    assert summary.startswith("We study a very long problem")
    assert summary.endswith("surprising things.")
    assert len(summary) < 500


def test_a_3000_character_single_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    abstract = " ".join(["transformers&attention"] * 130)[:3000]
    payload = paper_message(FakePaper(abstract=abstract, title="T" * 3000, authors=["N" * 3000] * 5))
    validate(payload)
    summary = payload["blocks"][1]["text"]["text"]
    assert summary.endswith("…")
    assert summary[:-1].endswith("transformers&amp;attention")  # whole words, the & escaped, never cut mid-entity
    assert all(len(t) <= SECTION_LIMIT for t in mrkdwn_texts(payload))


def test_a_hostile_title_cannot_mention_or_break_the_link() -> None:
    paper = FakePaper(title=HOSTILE, authors=[HOSTILE, "<!here>"], ai_summary=HOSTILE)
    payload = paper_message(paper, rank=1)
    validate(payload)
    assert_no_injection(payload)
    head = payload["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;script&gt;" in head
    assert "<!" not in all_text(payload) and "<@" not in all_text(payload)
    # The title's own `|` and `>` cannot end the label early: the link still points at the paper.
    assert angle_segments(head)[0].startswith("https://huggingface.co/papers/2410.13732|&lt;!channel")


def test_hostile_urls_are_defused_or_dropped() -> None:
    paper = FakePaper(
        github_repo="https://github.com/a/b|<!channel>",
        project_page="javascript:alert(1)",
    )
    payload = paper_message(paper)
    validate(payload)
    assert_no_injection(payload)
    links = payload["blocks"][2]["elements"][0]["text"]
    assert "<https://github.com/a/b%7C%3C!channel%3E|GitHub>" in links
    assert "javascript" not in links and "Project page" not in links


def test_overlong_urls_are_dropped_so_the_links_line_stays_valid() -> None:
    paper = FakePaper(github_repo="https://github.com/" + "&" * 900, project_page="https://p.example/" + "|" * 900)
    payload = paper_message(paper)
    validate(payload)
    links = payload["blocks"][2]["elements"][0]["text"]
    assert "GitHub" not in links and "Project page" not in links and "PDF" in links


def test_digest_header_names_the_day_the_count_and_links_to_hugging_face() -> None:
    payload = digest_header(day=DAY, count=10, total=37)
    validate(payload)
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Daily Papers · Monday, 24 November 2025"},
    }
    body = payload["blocks"][1]["text"]["text"]
    assert "*10 papers* (top 10 of 37)" in body
    assert "<https://huggingface.co/papers/date/2025-11-24|" in body
    assert "Monday, 24 November 2025" in payload["text"]


def test_digest_header_with_one_paper_and_no_total() -> None:
    payload = digest_header(day=DAY, count=1)
    validate(payload)
    assert "*1 paper* from" in payload["blocks"][1]["text"]["text"]
    assert "top" not in payload["text"]


def test_a_sample_digest_header_says_it_is_the_sample_not_the_days_list() -> None:
    payload = digest_header(day=DAY, count=3, total=31, sample=True)
    validate(payload)
    assert payload["blocks"][0]["text"]["text"] == "Daily Papers · sample"
    body = payload["blocks"][1]["text"]["text"]
    assert "bundled sample" in body and "not the Hugging Face list of Monday, 24 November 2025" in body
    assert "huggingface.co" not in json.dumps(payload) and "see the whole day" not in body
    assert payload["text"].startswith("Daily papers (bundled sample, not 2025-11-24's list): 3 papers")


def test_digest_post_is_chat_post_message_arguments_with_the_runs_metadata() -> None:
    header = digest_header(day=DAY, count=1)
    assert digest_post("C1", header, run_id=7, arxiv_id=None) == {
        "channel": "C1",
        "text": header["text"],
        "blocks": header["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": "paperbot_digest", "event_payload": {"run": 7, "header": True}},
    }
    paper = digest_post("C1", header, run_id=None, arxiv_id="2410.13732")
    assert paper["metadata"]["event_payload"] == {"run": None, "arxiv_id": "2410.13732"}


def test_empty_digest_says_no_papers_and_links_the_day() -> None:
    payload = empty_digest(day=DAY)
    validate(payload)
    assert payload["text"].startswith("No new papers today")
    assert "https://huggingface.co/papers/date/2025-11-24" in payload["blocks"][0]["text"]["text"]


def test_a_usage_problem_is_escaped_and_validates() -> None:
    payload = lookup.problem("Unknown subcommand <foo>.", "Usage: `/papers help`")
    validate(payload)
    assert "&lt;foo&gt;" in payload["text"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"blocks": []}, "fallback"),
        ({"text": " ", "blocks": []}, "fallback"),
        ({"text": "x" * (FALLBACK_LIMIT + 1), "blocks": []}, "fallback"),
        ({"text": "x", "blocks": [{"type": "divider"}] * 51}, "50 blocks"),
        (
            {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}]},
            "3000",
        ),
        ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]}, "non-empty"),
        ({"text": "x", "blocks": [{"type": "sparkle"}]}, "unknown block"),
        ({"text": "x", "blocks": [{"type": "divider", "colour": "red"}]}, "unexpected"),
        (
            {"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
            "150",
        ),
        (
            {
                "text": "x",
                "blocks": [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}],
            },
            "repeat",
        ),
    ],
)
def test_validate_rejects_what_slack_would_reject(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate(payload)


papers = st.builds(
    FakePaper,
    arxiv_id=st.from_regex(r"\A[0-9]{4}\.[0-9]{4,5}\Z"),
    title=st.text(max_size=400),
    authors=st.lists(st.text(max_size=120), max_size=12),
    abstract=st.none() | st.text(max_size=3500),
    ai_summary=st.none() | st.text(max_size=1500),
    hf_upvotes=st.none() | st.integers(0, 10**6),
    hf_comments=st.none() | st.integers(0, 10**4),
    github_repo=st.none() | st.text(max_size=80) | st.text(max_size=80).map(lambda s: "https://github.com/" + s),
    github_stars=st.none() | st.integers(0, 10**6),
    project_page=st.none() | st.text(max_size=80).map(lambda s: "https://p.example/" + s),
    thumbnail=st.none() | st.text(max_size=80) | st.text(max_size=3100).map(lambda s: "https://t.example/" + s),
)


@settings(max_examples=150, deadline=None)
@given(paper=papers, rank=st.none() | st.integers(1, 50))
def test_every_paper_message_is_valid_and_injection_free(paper: FakePaper, rank: int | None) -> None:
    payload = paper_message(paper, rank=rank)
    validate(payload)
    assert_no_injection(payload)


def test_a_long_list_answer_stays_within_slacks_50_blocks_and_says_what_it_left_out() -> None:
    paper = SimpleNamespace(
        arxiv_id="2410.13732",
        title="A paper",
        authors=["A. Author"],
        published=date(2024, 10, 17),
        daily_date=None,
        hf_upvotes=3,
    )
    thread = Thread("C1", "1.0", "digest", datetime(2026, 11, 24, tzinfo=UTC), 2)
    found = [SimpleNamespace(paper=paper, activity=TeamActivity(2, {"+1": 2}, 2, [thread]), permalinks={})] * 50
    payload = lookup.results(found, heading="The team's top papers (all)", more='{"page": 1}', note="a note")
    validate(payload)
    assert len(payload["blocks"]) <= 50
    assert "more: ask for fewer" in json.dumps(payload["blocks"])


def test_a_usage_keeps_its_lines() -> None:
    payload = lookup.problem("Bad <term>.", "Usage: `/papers search <text>`\nTerms: `author:`")
    assert "\nTerms: `author:`" in payload["blocks"][0]["text"]["text"]


def test_image_accessory_accepts_only_https_pictures_of_sane_length() -> None:
    from bot.blocks.common import image_accessory, section, validate

    url = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.13732.png"
    picture = image_accessory(url, "A title")
    assert picture == {
        "type": "image",
        "image_url": url,
        "alt_text": "A title",
    }
    validate({"text": "t", "blocks": [{**section("*A title*"), "accessory": picture}]})
    assert image_accessory(None, "t") is None
    assert image_accessory("http://insecure.example/a.png", "t") is None
    assert image_accessory("javascript:alert(1)", "t") is None
    assert image_accessory("https://x.example/" + "a" * 3000, "t") is None
    assert image_accessory("https://x.example/a b.png", "t") is None
    assert len(image_accessory("https://x.example/a.png", "word " * 1000)["alt_text"]) <= 2000  # type: ignore[index]
