"""Each `/papers` filter term once through the bot's real signed endpoint on both databases, each kind of bad term
named in the reply, `show` of a paper fetched after the ack, hostile titles, and the More button's size."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot import lanes
from storage.models import Post, Reaction, Reply
from storage.papers import upsert_papers
from storage.records import PaperRecord
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.handlers.lookups.world import DAY, PRIVATE, PUBLIC, REPLICA, TRANSFORMER, ask, shown
from tests.running import RunningBot

TOKENIZATION = "Tokenization counts"  # 2402.14903: cs.CL, 1 HF upvote
FLOW = "Flow Equivariant Recurrent"  # 2507.14793: cs.LG, 1 HF upvote, the newest cs.LG paper
OLDEST = "Causality and Renormalization"  # 2001.00124: published 2019-12-31


def titles(sender: SlackSender, slack: FakeSlack, text: str, *, channel: str = PUBLIC) -> str:
    """What `/papers <text>` shows (validated against Block Kit's limits by `ask`)."""
    return shown(ask(sender, slack, text, channel=channel).answer)


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("search neural networks author:Albanese", ["Replica symmetry"], ["Lie Group"]),
        ("filter since:2025-07-01", [FLOW], ["Replica symmetry", OLDEST]),
        ("filter until:2019-12-31", [OLDEST], ["Replica symmetry", FLOW]),
        ("filter votes:>=2", ["Replica symmetry"], [FLOW]),
        ("filter upvotes:>=1", [TOKENIZATION, FLOW], ["Replica symmetry"]),
        ("filter replies:>=1", ["Replica symmetry"], [FLOW]),
        ("filter topic:cs.CL", [TOKENIZATION], [FLOW, "Replica symmetry"]),
        ("filter topic:gr-qc", ["noncommutative Bianchi"], [FLOW, TOKENIZATION]),  # an archive without subjects
        ("filter topic:equivariant", [FLOW], [TOKENIZATION, "Replica symmetry"]),  # not a category: title words
        ('filter keyword:"Schrödinger Bridge"', ["Light Schrödinger Bridge"], [FLOW]),
        (f"filter channel:<#{PUBLIC}|papers>", ["Replica symmetry"], [FLOW]),
        ("filter discussed:no until:2021-12-31", [OLDEST], ["Replica symmetry"]),
    ],
)
def test_each_filter_term_keeps_what_it_names(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, text: str, present: list[str], absent: list[str]
) -> None:
    seen = titles(sender, slack, text)
    for title in present:
        assert title in seen, (text, title)
    for title in absent:
        assert title not in seen, (text, title)


def test_a_topic_that_is_a_hugging_face_keyword_finds_the_papers_tagged_with_it(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """`topic:` takes an arXiv category or a Hugging Face keyword; alone in a filter, the keyword was looked for
    among the categories only, and the paper tagged with it was never found."""
    tagged = PaperRecord(
        arxiv_id="2611.00002", title="Planning with language models", daily_date=DAY, ai_keywords=["LLM agents"]
    )
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[tagged])
    for text in ('filter topic:"llm agents"', 'search topic:"LLM agents"'):
        seen = titles(sender, slack, text)
        assert "Planning with language models" in seen and "Replica symmetry" not in seen, text


def test_channel_term_naming_the_private_channel_shows_nothing_of_it_elsewhere(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    outside = ask(sender, slack, f"filter channel:<#{PRIVATE}|secret>").answer
    assert outside["text"].startswith("No paper matches") and "Replica symmetry" not in shown(outside)
    inside = titles(sender, slack, f"filter channel:<#{PRIVATE}|secret>", channel=PRIVATE)
    assert "Replica symmetry" in inside and "5 votes" in inside


def test_votes_beyond_the_public_ones_count_only_inside_the_private_channel(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    assert "Replica symmetry" not in titles(sender, slack, "filter votes:>=5")
    assert "Replica symmetry" in titles(sender, slack, "filter votes:>=5", channel=PRIVATE)


def test_saved_me_lists_the_papers_saved_with_the_save_button(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    assert sender.action("paper_save", TRANSFORMER, response_url=slack.response_url("saved")).status_code == 200
    slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == "saved"), None))
    mine = titles(sender, slack, "filter saved:me")
    assert "Reducing the Transformer" in mine and "Replica symmetry" not in mine
    theirs = ask(sender, slack, "filter saved:me", user="U0002").answer  # saved by someone else: not theirs
    assert theirs["text"].startswith("No paper matches")


def test_sort_by_upvotes_and_by_date(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    by_upvotes = titles(sender, slack, "filter since:2025-01-01 sort:upvotes")
    assert by_upvotes.index(FLOW) < by_upvotes.index("Tensor Decomposition")  # 1 upvote before none
    by_date = titles(sender, slack, "filter topic:cs.LG sort:date")
    assert by_date.index(FLOW) < by_date.index("Tensor Decomposition") < by_date.index("Reducing the Transformer")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("filter colour:red", "colour:"),  # an unknown term
        ("filter autor:Albanese", "author:"),  # a near miss gets a suggestion
        ("filter discussed:maybe", "discussed:"),  # a bad value
        ("filter sort:random", "sort:"),
        ("filter since:2025-13-45", "since:"),  # a bad date
        ("filter until:yesterdayish", "until:"),
        ("filter votes:lots", "votes:"),  # a bad count
        ("filter upvotes:>=-", "upvotes:"),
        ("filter replies:many", "replies:"),
    ],
)
def test_a_bad_term_is_named_and_changes_nothing(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, text: str, named: str
) -> None:
    asked = ask(sender, slack, text)
    answer = asked.answer
    assert answer["response_type"] == "ephemeral"
    assert f"`{named}" in answer["text"], answer["text"]
    assert "Replica symmetry" not in shown(answer)


def test_show_of_a_paper_hugging_face_is_slow_to_send_comes_after_the_ack(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    hf.set_paper("2502.00001", {"id": "2502.00001", "title": "Fresh From The Hub", "authors": [{"name": "Ada L."}]})
    hf.delay_next(2.5)
    slow = ask(sender, slack, "show 2502.00001")
    assert slow.status == 200 and slow.ack is None  # the HTTP answer to the command is a bare ack
    assert slow.ack_first  # it came back before the paper did
    assert slow.reply is not None and "Fresh From The Hub" in shown(slow.reply)
    fake_arxiv.add_paper("2502.00002", "Only On arXiv")
    hf.delay_next(2.5)  # HF is slow to say it does not know the paper; arXiv has it
    late = ask(sender, slack, "show 2502.00002")
    assert late.ack is None and late.ack_first
    assert late.reply is not None and "Only On arXiv" in shown(late.reply)


def test_a_search_is_answered_in_the_ack_itself(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The index answers in milliseconds: the answer rides in the command's HTTP answer, one round trip sooner.
    # (The wait is lengthened so that a machine busy with other tests cannot push the answer past it.)
    monkeypatch.setattr(lanes, "ANSWER_IN_ACK_WAIT", 10.0)
    quick = ask(sender, slack, "search replica symetry braking")
    assert quick.ack is not None and quick.ack["response_type"] == "ephemeral"
    assert "Replica symmetry breaking" in shown(quick.ack)
    assert ask(sender, slack, "help").ack is not None  # a later command's answer is back: nothing else follows
    assert quick.reply is None and len(slack.responses) == 0  # never twice: nothing at the response_url


HOSTILE = "<!channel> *bold* _it_ ~x~ & a|b `code` <https://evil.example|click> " + "long " * 1000


def test_a_hostile_title_is_shown_as_written_and_breaks_no_limit(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    with bot.deps.sessions.begin() as session:
        record = PaperRecord(
            arxiv_id="2503.00001",
            title=HOSTILE,
            authors=["<@U1> Eve", "*Mallory*", "a & b"],
            abstract=HOSTILE,
            published=DAY,
            daily_date=DAY,
        )
        upsert_papers(session=session, records=[record])
    for text in ("show 2503.00001", "search bold code click", "filter since:2026-01-01", "top all"):
        seen = titles(sender, slack, text)  # every payload passed bot.blocks.validate
        if "2503.00001" in text or "since" in text or "search" in text:
            assert "&lt;!channel&gt;" in seen, text
        assert "<!channel>" not in seen and "<https://evil.example" not in seen and "<@U1>" not in seen, text
    card = ask(sender, slack, "show 2503.00001").answer
    title_line = card["blocks"][0]["text"]["text"]
    assert "*bold*" not in title_line  # the title's own asterisks cannot end the bold title early


def _more(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "lookup_more"
    ]


def test_the_more_button_of_a_filter_with_non_breaking_spaces_still_pages(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """Slack's clients type non-breaking spaces; as JSON escapes (6 characters each) they overflowed the button's
    2,000 characters, and the cut value answered "out of date"."""
    text = "filter since:2001-01-01" + "\u00a0" * 400 + "upvotes:>=0"
    [more] = _more(ask(sender, slack, text).answer)
    assert len(more["value"]) <= 2000
    key = "nbsp-more"
    assert sender.action("lookup_more", more["value"], response_url=slack.response_url(key)).status_code == 200
    second = slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))
    assert "(page 2)" in shown(second) and "11." in shown(second), second["text"]


def test_a_filter_too_long_for_a_more_button_says_how_to_see_more(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    answer = ask(sender, slack, "filter since:2001-01-01 " + " ".join(["upvotes:>=0"] * 180)).answer
    assert _more(answer) == []  # no button whose cut value could only say "out of date"
    assert "add a term to see them" in shown(answer)


def test_a_paper_without_a_published_day_is_found_by_its_hugging_face_day(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """`filter since:` started from the papers' published day alone, while the term itself falls back to the day
    Hugging Face listed the paper: a paper with only that day was never found."""
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id="2611.00001", title="Undated", daily_date=DAY)])
    assert "Undated" in titles(sender, slack, "filter since:2026-11-01")
    assert "Undated" not in titles(sender, slack, "filter until:2026-10-31")


@pytest.mark.parametrize(
    "text", ["filter votes:lots --share", "show 2502.09999 --share", "search zzzqqq xxyyzz author:nobody --share"]
)
def test_share_of_a_problem_or_no_answer_stays_private(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, text: str
) -> None:
    """--share posts papers to the channel; a usage error, a "no match" or an unknown paper is only the asker's."""
    assert ask(sender, slack, text).answer["response_type"] == "ephemeral"
    assert sender.command(f"show {REPLICA} --share").status_code == 200  # papers are shared
    [posted] = slack.wait_for(lambda: slack.posted(PUBLIC))
    assert "Replica symmetry" in shown(posted)


def test_the_teams_votes_and_replies_break_near_ties_where_the_asker_may_see_them(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """Five papers with one title (a search cannot tell them apart). Their order with no activity decides their
    parts, so that any order the activity makes comes from it: the first becomes a paper the team only posted, the
    second one voted on in the private channel, the last two one replied to and one voted on. Voted and replied-to
    come first, then posted, then the rest; the private vote counts only when asked in its channel."""
    title = "Attention sinks in streaming transformers"
    ids = [f"2611.0010{n}" for n in range(5)]
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=i, title=title, daily_date=DAY) for i in ids])

    def order(channel: str) -> list[str]:
        seen = titles(sender, slack, f"search {title.lower()}", channel=channel)
        return sorted((i for i in ids if i in seen), key=seen.index)

    deadline = time.monotonic() + 10  # the index takes in new papers within seconds
    while len(baseline := order(PUBLIC)) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(baseline) == 5, baseline
    part = dict(zip(("posted", "private", "unposted", "replied", "voted"), baseline, strict=True))
    with bot.deps.sessions.begin() as session:
        for n, (name, channel) in enumerate(
            (("posted", PUBLIC), ("replied", PUBLIC), ("voted", PUBLIC), ("private", PRIVATE)), start=1
        ):
            ts, paper = f"1764200000.00000{n}", part[name]
            session.add(Post(team_id=TEAM_ID, channel_id=channel, ts=ts, arxiv_id=paper, kind="digest"))
            if name in ("voted", "private"):
                session.add(
                    Reaction(
                        team_id=TEAM_ID, channel_id=channel, message_ts=ts, user_id="U7", emoji="+1", arxiv_id=paper
                    )
                )
            if name == "replied":
                session.add(
                    Reply(
                        team_id=TEAM_ID,
                        channel_id=channel,
                        thread_ts=ts,
                        ts=f"{ts}1",
                        user_id="U7",
                        text="x",
                        arxiv_id=paper,
                    )
                )
    role = {paper: name for name, paper in part.items()}
    public = [role[i] for i in order(PUBLIC)]
    assert sorted(public[:2]) == ["replied", "voted"] and public[2] == "posted", public
    assert public.index("private") > public.index("posted"), public  # its vote is not seen from here
    inside = [role[i] for i in order(PRIVATE)]
    assert sorted(inside[:3]) == ["private", "replied", "voted"] and inside[3:] == ["posted", "unposted"], inside
