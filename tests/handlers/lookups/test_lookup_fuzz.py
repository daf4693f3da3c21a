"""Whatever anyone types after `/papers`, through the bot's real signed endpoint on both databases: never a 5xx,
never silence, never an empty reply, every payload within Slack's Block Kit limits, the server still answering
afterwards, and nothing stored changed by a command that only reads."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.command_text import Invocation, parse
from bot.config import Settings
from bot.subcommands import ALL as ALL_TERMS
from storage.models import Paper, Post, Reaction, Reply, SavedPaper, Subscription
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF
from tests.fakes.slack import BOT_USER_ID, FakeSlack, SlackSender
from tests.handlers.lookups.world import PRIVATE, PUBLIC, REPLICA, ask, said, seed_discussion
from tests.running import RunningBot, bot_settings, running_bot

# Subcommands and near misses; `subscribe` and `--share` are left out: they are meant to change what is stored.
SUBCOMMANDS = (
    "search",
    "show",
    "top",
    "filter",
    "help",
    "unsubscribe",
    "subscriptions",
    "digest",
    "config",
    "export",
    "serch",
    "SHOW",
    "Top",
    "halp",
)
TERMS = (
    *ALL_TERMS,
    "autor",
    "min-votes",
    "foo",
    "",
)
VALUES = (
    "Albanese",
    '"Geoffrey Hinton"',
    "2025-11-03",
    "2025-13-45",
    "2025-11",
    "7d",
    "3m",
    "-1y",
    ">=2",
    "&gt;=3",
    "&lt;3",
    "=0",
    ">=99999999999999999999",
    "lots",
    "cs.CL",
    "agents",
    "yes",
    "no",
    "me",
    "you",
    "votes",
    "upvotes",
    "date",
    "relevance",
    "<#CPRIV|secret>",
    "<#C0001>",
    "<@U1>",
    "",
    '"',
)
SLACKISH = (
    "<#C1|x>",
    f"<#{PRIVATE}|secret>",
    "<@U1>",
    "<@U1|jane>",
    f"<@{BOT_USER_ID}>",
    "<https://a.b|c>",
    "<https://arxiv.org/abs/2111.12997|paper>",
    "<!here>",
    "<!channel>",
    "<!subteam^S1|team>",
    "&amp;",
    "&lt;",
    "&gt;",
    "<",
    ">",
    "|",
    "*",
    "`",
    '"',
    '""',
    "“smart”",
    "--",
    "—",
    "now",
    "all",
    "week",
    "50",
    "0",
    "-3",
    "json",
    "csv",
    "bibtex",
    "time",
    "09:30",
)
PAPER_REFS = (
    REPLICA,
    f"arXiv:{REPLICA}v2",
    "hep-th/9901001",
    "2410.13732",
    "https://arxiv.org/abs/2410.13732",
    "https://huggingface.co/papers/2111.12997",
    "<https://huggingface.co/papers/2410.13732|hf>",
    "https://www.alphaxiv.org/abs/2502.00001",
    "9999.99999",
    "2502.0000",
)


def term() -> st.SearchStrategy[str]:
    value = st.one_of(st.sampled_from(VALUES), st.text(max_size=12))
    return st.builds(lambda name, v: f"{name}:{v}", st.sampled_from(TERMS), value)


def token() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SUBCOMMANDS),
        term(),
        st.sampled_from(SLACKISH),
        st.sampled_from(PAPER_REFS),
        st.from_regex(r"\A\d{4}\.\d{4,5}(v\d)?\Z"),
        st.text(st.characters(codec="utf-8"), max_size=10),
        st.builds(lambda w: f'"{w}"', st.text(max_size=10)),
    )


def command_texts() -> st.SearchStrategy[str]:
    """Random unicode (control characters too), and random sentences of real words, terms, quotes, Slack's
    encodings and paper references, usually led by a subcommand."""
    sentence = st.builds(
        lambda head, rest, sep: sep.join([head, *rest]).strip(),
        st.sampled_from((*SUBCOMMANDS, "")),
        st.lists(token(), max_size=6),
        st.sampled_from((" ", "  ", "\t", " \n ")),
    )
    return st.one_of(st.text(st.characters(codec="utf-8"), max_size=60), sentence)


@pytest.fixture
def settings_(db_url: str, slack: FakeSlack, hf: FakeHF, fake_arxiv: FakeArxiv) -> Settings:
    return bot_settings(db_url, slack, hf_api_url=hf.url, arxiv_api_url=fake_arxiv.url)


@pytest.fixture
def world(settings_: Settings, slack: FakeSlack) -> Iterator[tuple[RunningBot, SlackSender]]:
    """One running bot (with the sample papers and a public and a private discussion) for all the examples."""
    slack.private_channels.add(PRIVATE)
    with running_bot(settings_) as running:
        seed_discussion(running.deps)
        sender = SlackSender(running.url + "/slack/events")
        yield running, sender
        sender.close()


def stored(running: RunningBot) -> dict[str, int]:
    """How many rows each table people's data lives in holds."""
    with running.deps.sessions.begin() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Paper, Post, Reaction, Reply, SavedPaper, Subscription)
        }


def test_any_command_text_gets_a_non_empty_answer_and_changes_nothing(
    world: tuple[RunningBot, SlackSender], slack: FakeSlack
) -> None:
    running, sender = world
    before = stored(running)

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(text=command_texts())
    @example(text="filter topic:\x00")
    @example(text="search \x00 author:\x00")
    @example(text="filter keyword:\x00 channel:<#C\x00|x>")
    @example(text="top all 50 author:\x00")
    @example(text="show \x00")
    @example(text="filter saved:me sort:upvotes")
    @example(text="filter " + "author:x " * 400)
    @example(text="search " + "a" * 3000)
    @example(text="config time \x00")
    @example(text="export since:\x00")
    def check(text: str) -> None:
        parsed = parse(text)
        assume(not (isinstance(parsed, Invocation) and parsed.share))  # --share answers in the channel instead
        # A reply may quote what was typed ("write `/papers search 5 votes`"): text that itself holds the private
        # discussion's markers proves nothing about a leak.
        assume(not any(marker in text.casefold() for marker in (PRIVATE.casefold(), "votes", "replies")))
        asked = ask(sender, slack, text, timeout=5.0)
        assert asked.status == 200, (text, asked.status)
        assert said(asked.answer), text
        seen = json.dumps(asked.answer)
        # The private channel's discussion (3 more votes, 2 more replies, its thread) stays inside it.
        assert f"<#{PRIVATE}>" not in seen and "5 votes" not in seen and "3 replies" not in seen, text
        assert stored(running) == before, text

    check()
    assert said(ask(sender, slack, "help").answer)  # the server still answers
    assert said(ask(sender, slack, f"show {REPLICA}", channel=PUBLIC).answer)
