"""`/papers` text: what people type (quotes, Slack's encodings, typos) becomes the subcommand they meant, or a
reply that names what was wrong and shows the usage — never a crash."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.command_text
import bot.subcommands
from bot.command_text import (
    SUBCOMMANDS,
    ChannelRef,
    CommandTextError,
    Field,
    Flag,
    Invocation,
    ParseError,
    Url,
    UserRef,
    Word,
    did_you_mean,
    help_text,
    parse,
    tokenize,
)


def invocation(text: str) -> Invocation:
    result = parse(text)
    assert isinstance(result, Invocation), result
    return result


def error(text: str) -> ParseError:
    result = parse(text)
    assert isinstance(result, ParseError), result
    return result


# ---- tokens -------------------------------------------------------------------------------------------------


def test_words_split_on_any_space_and_invisible_characters() -> None:
    tokens = tokenize("diffusion\u00a0 models\tfor\u200brobots\n")
    assert [t.text for t in tokens if isinstance(t, Word)] == ["diffusion", "models", "for", "robots"]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ('"world models"', "world models"),
        ("“world models”", "world models"),
        ("‘world models’", "world models"),
        ("'world models'", "world models"),
        ("‘Hinton’s capsules’", "Hinton’s capsules"),  # an apostrophe inside a curly-quoted phrase
    ],
)
def test_quoted_phrases_are_one_word(text: str, phrase: str) -> None:
    assert tokenize(f"a {text} b") == (Word("a", "a"), Word(phrase, text, quoted=True), Word("b", "b"))


def test_apostrophes_are_not_quotes() -> None:
    assert [t.text for t in tokenize("O'Brien '90s rock'n'roll") if isinstance(t, Word)] == [
        "O'Brien",
        "'90s",
        "rock'n'roll",
    ]


@pytest.mark.parametrize("text", ['"world models', "“world models", "‘world models", 'author:"Yann', 'x "'])
def test_an_unclosed_quote_is_named(text: str) -> None:
    with pytest.raises(CommandTextError) as caught:
        tokenize(text)
    assert "never closed" in caught.value.problem
    assert caught.value.token and caught.value.token[0] in '"“‘'


def test_slack_channel_user_and_link_encodings_are_decoded() -> None:
    text = "<#C0001|ml-papers> <#C0002> <@U0001> <@W0002|jane> <https://arxiv.org/abs/2410.13732|the paper> <https://x.org/a?b=1&amp;c=2>"
    assert tokenize(text) == (
        ChannelRef("C0001", "ml-papers", "<#C0001|ml-papers>"),
        ChannelRef("C0002", None, "<#C0002>"),
        UserRef("U0001", None, "<@U0001>"),
        UserRef("W0002", "jane", "<@W0002|jane>"),
        Url("https://arxiv.org/abs/2410.13732", "the paper", "<https://arxiv.org/abs/2410.13732|the paper>"),
        Url("https://x.org/a?b=1&c=2", None, "<https://x.org/a?b=1&amp;c=2>"),
    )


def test_html_entities_slack_escapes_are_undone_once() -> None:
    assert [t.text for t in tokenize("R&amp;D &lt;b&gt; &amp;lt;") if isinstance(t, Word)] == ["R&D", "<b>", "&lt;"]


@pytest.mark.parametrize("text", ["<!here>", "<!channel>", "<!everyone>", "<!subteam^S0001|@ml-team>"])
def test_broadcast_and_group_mentions_are_refused_by_name(text: str) -> None:
    with pytest.raises(CommandTextError) as caught:
        tokenize(f"diffusion {text}")
    assert "Slack mention" in caught.value.problem and caught.value.token and caught.value.token.startswith("@")


def test_a_formatted_date_reads_as_its_fallback_text() -> None:
    assert tokenize("<!date^1392734382^{date}|Feb 18, 2014>")[0] == Word(
        "Feb 18, 2014", "<!date^1392734382^{date}|Feb 18, 2014>"
    )


def test_a_lone_angle_bracket_is_text() -> None:
    assert [t.text for t in tokenize("a<b c> d") if isinstance(t, Word)] == ["a<b", "c>", "d"]


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("author:Hinton", Field("author", "Hinton", "author:Hinton")),
        ("AUTHOR:Hinton", Field("author", "Hinton", "AUTHOR:Hinton")),
        ('author:"Yann LeCun"', Field("author", "Yann LeCun", 'author:"Yann LeCun"', quoted=True)),
        ("author:“Yann LeCun”", Field("author", "Yann LeCun", "author:“Yann LeCun”", quoted=True)),
        ("votes:>=3", Field("votes", ">=3", "votes:>=3")),
        ("votes:&gt;=3", Field("votes", ">=3", "votes:&gt;=3")),
        ("votes:&lt;=3", Field("votes", "<=3", "votes:&lt;=3")),
        (
            "channel:<#C0001|ml>",
            Field("channel", "ml", "channel:<#C0001|ml>", ref=ChannelRef("C0001", "ml", "<#C0001|ml>")),
        ),
        ("author:", Field("author", "", "author:")),
    ],
)
def test_field_terms(text: str, token: Field) -> None:
    assert tokenize(text) == (token,)


@pytest.mark.parametrize(
    "text", ["https://arxiv.org/abs/2410.13732", "arXiv:2410.13732", "arxiv:2410.13732v2", "http://x.org", "10:30"]
)
def test_links_ids_and_times_are_not_fields(text: str) -> None:
    assert tokenize(text) == (Word(text, text),)


@pytest.mark.parametrize("text", ["--share", "--SHARE", "—share", "–share"])
def test_flags_survive_autocorrected_dashes(text: str) -> None:
    assert tokenize(text) == (Flag("share", text),)


# ---- subcommands ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "Help", "\u200b"])
def test_empty_text_and_help_ask_for_the_overview(text: str) -> None:
    assert invocation(text) == Invocation("help", raw_rest="")


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_subcommand_is_found_case_insensitively(name: str) -> None:
    assert invocation(name.upper()).name == name


def test_search_keeps_its_tokens_and_the_share_flag() -> None:
    result = invocation('SEARCH "world models" author:LeCun --share')
    assert result.name == "search" and result.share
    assert result.args == (
        Word("world models", '"world models"', quoted=True),
        Field("author", "LeCun", "author:LeCun"),
    )
    assert result.raw_rest == '"world models" author:LeCun --share'


@pytest.mark.parametrize("name", ["search", "show", "top", "filter"])
def test_share_is_a_flag_of_the_lookups(name: str) -> None:
    assert invocation(f"{name} --share").share


@pytest.mark.parametrize("text", ["help --share", "subscribe x --share", "search x --shar", "subscriptions --share"])
def test_a_flag_a_subcommand_does_not_take_is_named(text: str) -> None:
    problem = error(text)
    assert problem.token and problem.token.startswith("--") and "not a flag" in problem.problem


@pytest.mark.parametrize(
    ("name", "rest"),
    [
        ("digest", "now"),
        ("config", 'keywords "a, b", c'),  # config and export read their text themselves: quotes stay theirs
        ("export", "csv since:2025-11-01 all"),
        ("config", "recap fri 16:00"),
    ],
)
def test_digest_config_and_export_get_their_text_as_typed(name: str, rest: str) -> None:
    assert invocation(f"{name.title()}   {rest}  ") == Invocation(name, (), rest)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        *[("serch", "search"), ("seach", "search"), ("sarch", "search"), ("tpo", "top"), ("hepl", "help")],
        *[("filtr", "filter"), ("subscirbe", "subscribe"), ("unsub", "unsubscribe"), ("exprot", "export")],
    ],
)
def test_a_misspelt_subcommand_gets_did_you_mean(typed: str, meant: str) -> None:
    problem = error(f"{typed} diffusion")
    assert problem.suggestions[0] == meant and f"did you mean `{meant}`" in problem.problem
    assert problem.token == typed and all(f"`/papers {sub.usage}`" in problem.usage for sub in SUBCOMMANDS.values())


def test_an_ambiguous_start_offers_both() -> None:
    assert error("sub diffusion").suggestions == ("subscribe", "subscriptions")


def test_words_that_are_no_subcommand_are_pointed_to_search() -> None:
    problem = error("diffusion models for robots")
    assert problem.suggestions == () and "`/papers search diffusion models for robots`" in problem.problem


@pytest.mark.parametrize(
    "text", ["2410.13732", "arXiv:2410.13732v2", "<https://huggingface.co/papers/2410.13732|hf>", "hep-th/9901001"]
)
def test_a_bare_paper_reference_is_show(text: str) -> None:
    result = invocation(f"{text} --share")
    assert result.name == "show" and result.share and len(result.args) == 1


def test_the_command_name_in_usage_is_the_one_used() -> None:
    for text in ("search x --bad", "serch x"):
        problem = parse(text, command="/papers-dev")
        assert isinstance(problem, ParseError) and "`/papers-dev search <text>" in problem.usage
        assert "`/papers " not in problem.usage


def test_subscriptions_takes_nothing_and_show_one_thing() -> None:
    assert error("subscriptions 2").token == "2"
    assert error("show 2410.13732 2306.00356").token == "2306.00356"


def test_an_unclosed_quote_names_the_subcommands_usage() -> None:
    problem = error('search "world models')
    assert problem.subcommand == "search" and problem.usage.startswith("Usage: `/papers search <text>")
    assert "Terms: `author:`" in problem.usage


# ---- help -------------------------------------------------------------------------------------------------------


def test_help_lists_every_subcommand_with_its_usage() -> None:
    text = help_text()
    for sub in SUBCOMMANDS.values():
        assert f"`/papers {sub.usage}` — {sub.summary}" in text


@pytest.mark.parametrize(("typed", "topic"), [("search", "search"), ("SHOW", "show"), ("serch", "search")])
def test_help_about_one_subcommand_shows_its_usage_and_examples(typed: str, topic: str) -> None:
    result = invocation(f"help {typed}")
    assert result.topic == topic
    text = help_text(result.topic)
    assert f"`/papers {SUBCOMMANDS[topic].usage}`" in text
    assert all(f"`/papers {example}`" in text for example, _ in SUBCOMMANDS[topic].examples)


def test_help_for_search_explains_every_term() -> None:
    text = help_text("search")
    assert all(f"• `{term.name}:`" in text for term in bot.subcommands.TERMS)
    assert "all must match" in text and "--share" in text


def test_help_for_subscribe_lists_only_the_terms_alerts_take() -> None:
    text = help_text("subscribe")
    assert "`author:`" in text and "`topic:`" in text and "`votes:`" not in text


@pytest.mark.parametrize(("typed", "suggestions"), [("zzz", ()), ("sub", ("subscribe", "subscriptions"))])
def test_help_about_an_unknown_subcommand_says_so(typed: str, suggestions: tuple[str, ...]) -> None:
    problem = error(f"help {typed}")
    assert problem.token == typed and problem.suggestions == suggestions
    assert ("did you mean" in problem.problem) == bool(suggestions)
    assert suggestions or all(f"`{name}`" in problem.problem for name in SUBCOMMANDS)


def test_every_subcommand_has_a_summary_usage_and_examples() -> None:
    for sub in SUBCOMMANDS.values():
        assert sub.summary and sub.usage.startswith(sub.name) and sub.examples
        assert all(example.startswith(sub.name) for example, _ in sub.examples)


def test_did_you_mean_ignores_what_is_far_off() -> None:
    assert did_you_mean("banana", SUBCOMMANDS) == ()
    assert did_you_mean("x" * 10_000, SUBCOMMANDS) == ()


# ---- properties ---------------------------------------------------------------------------------------------

NASTY = st.text(
    alphabet=st.characters(blacklist_categories=()),  # every code point, controls and lone surrogates included
    max_size=300,
)
SLACKY = st.lists(
    st.sampled_from(
        [
            *["search", "help", "show", "top", "<", ">", "<#C1|x>", "<@U1>", "<!here>", "<https://a.b|c d>", '"', "“"],
            *["”", "‘", "’", "'", "author:", "votes:&gt;=3", "--share", "—", "&amp;", " ", "\n", "\x00", "\ud800"],
            *["2410.13732", "arXiv:", "https://arxiv.org/abs/2410.13732", "|", ":", "x", "serch", "\u200b"],
        ]
    ),
    max_size=40,
).map("".join)


@given(st.one_of(NASTY, SLACKY))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_parse_never_raises_and_errors_say_something(text: str) -> None:
    result = parse(text)
    if isinstance(result, ParseError):
        assert result.problem.strip() and result.usage.strip() and result.message.strip()
        assert result.token is None or len(result.token) <= 40
    else:
        assert result.name in SUBCOMMANDS


@given(SLACKY)
def test_raw_rest_is_the_text_after_the_name(text: str) -> None:
    result = parse(text)
    if isinstance(result, Invocation) and result.name != "show":
        assert result.raw_rest in text


@pytest.mark.parametrize(
    "text",
    [
        "search " + "<" * 200_000,
        "search " + "'a " * 100_000,
        "search " + "<#C1|" * 50_000 + ">",
        "search " + "x" * 1_000_000,
        "search " + '"' + "word " * 100_000,
        "<" * 100_000,
    ],
)
def test_huge_inputs_are_answered(text: str) -> None:
    result = parse(text)
    message = result.message if isinstance(result, ParseError) else result.raw_rest
    assert message  # and the test finishing at all shows no input is quadratic


def test_docstring_examples_hold() -> None:
    for module in (bot.command_text, bot.subcommands):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
