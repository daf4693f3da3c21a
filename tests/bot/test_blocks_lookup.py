"""`/papers show`'s card (bot.blocks.lookup.paper_card) on plain data: the team's reactions by emoji, the Code and
Project page links, and one line for each thread saying where and when it was posted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bot.blocks import lookup, validate
from storage.lookups import TeamActivity, Thread
from tests.bot.test_blocks import FakePaper

POSTED = datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
DAY = f"<!date^{int(POSTED.timestamp())}^{{date_short}}|2026-03-14>"


def card(paper: FakePaper, activity: TeamActivity, permalinks: dict[tuple[str, str], str] | None = None) -> str:
    payload = lookup.paper_card(SimpleNamespace(paper=paper, activity=activity, permalinks=permalinks or {}))
    validate(payload)
    return "\n".join(texts(payload))


def texts(payload: dict[str, Any]) -> list[str]:
    out = []
    for block in payload["blocks"]:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out += [e["text"] for e in block["elements"]]
    return out


def test_reactions_are_listed_by_emoji_most_used_first_then_by_name() -> None:
    activity = TeamActivity(3, {"eyes": 2, "tada": 1, "+1": 3, "brain": 2}, 1, [Thread("C1", "1.0", "digest", POSTED)])
    assert "*Team:* 3 votes (people) · 1 reply  :+1: 3 :brain: 2 :eyes: 2 :tada: 1" in card(FakePaper(), activity)


def test_at_most_eight_emoji_are_listed() -> None:
    reactions = {f"e{n}": 20 - n for n in range(12)}
    shown = card(FakePaper(), TeamActivity(1, reactions, 0, [Thread("C1", "1.0", "share", POSTED)]))
    assert ":e7: 13" in shown and ":e8:" not in shown


def test_code_and_project_page_links_appear_when_stored_and_only_safe_ones() -> None:
    paper = FakePaper(github_repo="lab/repo", project_page="https://lab.example/paper")
    shown = card(paper, TeamActivity())
    assert "<https://github.com/lab/repo|Code>" in shown and "<https://lab.example/paper|Project page>" in shown
    full = card(replace(paper, github_repo="https://gitlab.example/lab/repo"), TeamActivity())
    assert "<https://gitlab.example/lab/repo|Code>" in full
    bare = card(FakePaper(), TeamActivity())
    assert "Code" not in bare and "Project page" not in bare
    unsafe = card(FakePaper(project_page="javascript:alert(1)"), TeamActivity())
    assert "Project page" not in unsafe and "javascript" not in unsafe


def test_each_thread_says_where_and_when_it_was_posted_newest_first() -> None:
    threads = [
        Thread("C2", "2.0", "share", datetime(2026, 3, 20, tzinfo=UTC), 2),
        Thread("C1", "1.0", "digest", POSTED, 0),
    ]
    lines = card(FakePaper(), TeamActivity(2, {"+1": 2}, 2, threads), {("C1", "1.0"): "https://slack.example/p1"})
    thread_lines = [line for line in lines.splitlines() if line.startswith("• ")]
    assert thread_lines == [
        f"• share post in <#C2>, <!date^{int(threads[0].posted_at.timestamp())}^{{date_short}}|2026-03-20> · 2 replies",
        f"• <https://slack.example/p1|digest thread> in <#C1>, {DAY} · 0 replies",
    ]


def test_an_undiscussed_paper_says_so() -> None:
    assert "*Team:* not posted or discussed here yet." in card(FakePaper(), TeamActivity())


def test_a_time_without_a_zone_is_utc_whatever_the_servers_zone(server_zone: Callable[[str], None]) -> None:
    """SQLite returns stored UTC times without a zone; read as local time the day would move by the offset."""
    server_zone("Asia/Tokyo")
    naive = Thread("C1", "1.0", "digest", POSTED.replace(tzinfo=None))
    assert f"in <#C1>, {DAY} · 0 replies" in card(FakePaper(), TeamActivity(1, {"+1": 1}, 0, [naive]))
