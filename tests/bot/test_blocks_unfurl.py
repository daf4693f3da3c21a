"""The unfurl card (bot/blocks/unfurl.py), built from plain data without Slack: what a person reads under a paper
link, within Block Kit's rules, with people's and papers' text escaped."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bot.blocks import validate
from bot.blocks.unfurl import fallback_text, history_line, paper_unfurl, plain_reply
from bot.unfurls import History
from storage.lookups import QuotedReply, Thread


@dataclass
class FakePaper:
    arxiv_id: str = "2410.13732"
    title: str = "Reducing the Transformer Architecture to a Minimum"
    authors: list[str] = field(default_factory=lambda: ["Ada L.", "Bo M.", "Cy N.", "Di O."])
    published: date | None = date(2024, 10, 17)
    daily_date: date | None = None
    hf_upvotes: int | None = 42
    github_repo: str | None = None
    thumbnail: str | None = None


NOV_12 = datetime(2026, 11, 12, 9, 30, tzinfo=UTC)
THREADS = [
    Thread("C0READ", "1762939800.000100", "share", NOV_12, replies=4),
    Thread("C0DIGEST", "1762800000.000200", "digest", datetime(2026, 11, 10, tzinfo=UTC), replies=3),
    Thread("C0DIGEST", "1762700000.000300", "digest", datetime(2026, 11, 9, tzinfo=UTC), replies=0),
    Thread("C0OLD", "1762600000.000400", "digest", datetime(2026, 11, 8, tzinfo=UTC), replies=0),
]


def checked(unfurl: dict[str, Any], paper: FakePaper) -> str:
    """Validate the unfurl as Slack would a message's blocks, and return everything it shows."""
    validate({"text": fallback_text(paper), "blocks": unfurl["blocks"]})
    return json.dumps(unfurl["blocks"], ensure_ascii=False)


def test_a_plain_card_names_the_paper_its_first_authors_year_upvotes_and_links() -> None:
    paper = FakePaper()
    shown = checked(paper_unfurl(paper, None), paper)
    assert "Reducing the Transformer Architecture to a Minimum" in shown
    assert "Ada L., Bo M., Cy N. et al." in shown and "Di O." not in shown
    assert "2024" in shown and "▲ 42 on Hugging Face" in shown
    for url in ("arxiv.org/abs/2410.13732", "arxiv.org/pdf/2410.13732", "huggingface.co/papers/2410.13732"):
        assert url in shown
    assert "alphaxiv.org/abs/2410.13732" in shown
    assert "discussed" not in shown


def test_the_history_names_the_count_the_last_place_votes_replies_and_the_newest_three_threads() -> None:
    paper = FakePaper()
    links = {(t.channel_id, t.ts): f"https://slack.test/archives/{t.channel_id}/p{t.ts}" for t in THREADS}
    quoted = QuotedReply("U0042", "The ablation in §4 is the point.\nSecond line", "C0READ", THREADS[0].ts)
    history = History(votes=5, replies=7, threads=THREADS, permalinks=links, quoted=quoted)
    shown = checked(paper_unfurl(paper, history), paper)
    assert history_line(history).startswith("discussed 4 times — last in <#C0READ> on <!date^")
    assert "|12 Nov 2026>" in history_line(history) and history_line(history).endswith("· 5 votes · 7 replies")
    assert [t.ts for t in THREADS[:3]] == [t for t in (t.ts for t in THREADS) if f"p{t}" in shown]  # newest three
    assert "C0OLD" not in shown
    assert "“The ablation in §4 is the point.” — <@U0042>" in shown and "Second line" not in shown


def test_one_discussion_is_said_in_the_singular() -> None:
    history = History(votes=1, replies=1, threads=THREADS[:1])
    assert "discussed 1 time — " in history_line(history) and "· 1 vote · 1 reply" in history_line(history)
    assert history_line(History()) == ""


def test_a_paper_with_a_thumbnail_gets_an_image_accessory_and_one_without_none() -> None:
    pictured = FakePaper(thumbnail="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.13732.png")
    head = paper_unfurl(pictured, None)["blocks"][0]
    checked(paper_unfurl(pictured, None), pictured)
    assert head["accessory"] == {"type": "image", "image_url": pictured.thumbnail, "alt_text": pictured.title}
    for missing in (None, "http://insecure.example/a.png", "javascript:alert(1)"):
        bare = FakePaper(thumbnail=missing)
        assert "accessory" not in paper_unfurl(bare, None)["blocks"][0]


def test_hostile_titles_authors_and_replies_are_escaped() -> None:
    paper = FakePaper(
        title="<!channel> *Bold* <https://evil.example|click me> & co",
        authors=["<@U0BAD>", "Eve & <Mallory>"],
        thumbnail=None,
    )
    quoted = QuotedReply("U0007", "<!here> read <https://evil.example|this> & <@U0001> <#C0SECRET|secret>", "C1", "1.0")
    history = History(votes=1, replies=1, threads=THREADS[:1], quoted=quoted)
    shown = checked(paper_unfurl(paper, history), paper)
    assert "<!channel>" not in shown and "<!here>" not in shown and "<@U0BAD>" not in shown
    assert "evil.example|click" not in shown and "https://evil.example|this" not in shown
    assert "&lt;!channel&gt;" in shown and "Eve &amp; &lt;Mallory&gt;" in shown
    assert "“@here read this &amp; <@U0001> <#C0SECRET>” — <@U0007>" in shown


def test_plain_reply_keeps_one_short_line() -> None:
    assert plain_reply("\n\n  first  \nsecond") == "first"
    long = plain_reply("word " * 200)
    assert len(long) <= 200 and long.endswith("…")
    assert plain_reply("cut <https://example.org/a|a label that runs on " + "x" * 300 + ">").count("&lt;") == 1


def test_a_time_without_a_zone_is_utc_whatever_the_servers_zone(server_zone: Callable[[str], None]) -> None:
    """SQLite returns stored UTC times without a zone; read as Tokyo's local time, the date token moved 9 hours."""
    server_zone("Asia/Tokyo")
    naive = Thread("C0READ", "1762939800.000100", "share", NOV_12.replace(tzinfo=None), replies=1)
    line = history_line(History(votes=1, replies=1, threads=[naive]))
    assert f"<!date^{int(NOV_12.timestamp())}^" in line and "|12 Nov 2026>" in line, line
