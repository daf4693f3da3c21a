"""The query language: every term and value form means what the help says, every mistake is named with its fix,
and `top`, `show`, `subscribe` and `unsubscribe` read their arguments into typed values."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import bot.search.arguments
import bot.search.query
from bot.command_text import ParseError, parse
from bot.search.arguments import (
    PaperRef,
    Subscription,
    Top,
    Unsubscribe,
    parse_show,
    parse_subscription,
    parse_top,
    parse_unsubscribe,
)
from bot.search.query import Channel, Count, Filters, Query, normalize_topic, parse_filter, parse_search
from bot.subcommands import TERM_NAMES

TODAY = date(2025, 11, 30)  # a Sunday
NOW = datetime(2025, 11, 30, 15, 30, tzinfo=UTC)


def query(text: str) -> Query:
    result = parse_search(text, today=TODAY)
    assert isinstance(result, Query), result
    return result


def filters(text: str) -> Filters:
    return query(text).filters


def problem(text: str) -> ParseError:
    result = parse_search(text, today=TODAY)
    assert isinstance(result, ParseError), result
    return result


# ---- terms ------------------------------------------------------------------------------------------------------


def test_words_and_phrases_are_the_search_text() -> None:
    q = query('diffusion "world models" author:LeCun')
    assert q.text == 'diffusion "world models"' and q.words == ("diffusion", "world models")
    assert q.filters == Filters(authors=("LeCun",))


def test_repeated_authors_topics_and_keywords_all_must_match() -> None:
    f = filters('author:Ho author:"Tim Salimans" topic:cs.cv topic:diffusion keyword:DDPM keyword:"score matching"')
    assert f.authors == ("Ho", "Tim Salimans")
    assert f.topics == ("cs.CV", "diffusion")
    assert f.keywords == ("DDPM", "score matching")


def test_a_space_after_the_colon_is_forgiven() -> None:
    assert query("author: Hinton capsules") == Query("capsules", Filters(authors=("Hinton",)), ("capsules",))
    assert filters("channel: <#C0001|ml>").channel == Channel("C0001", "ml")


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2025-11-03", date(2025, 11, 3)),
        ("2025-02", date(2025, 2, 1)),
        ("2024", date(2024, 1, 1)),
        ("7d", date(2025, 11, 23)),
        ("2w", date(2025, 11, 16)),
        ("3m", date(2025, 8, 30)),
        ("1y", date(2024, 11, 30)),
        ("0d", TODAY),
        ("today", TODAY),
        ("Yesterday", date(2025, 11, 29)),
        ("9m", date(2025, 2, 28)),  # 30 November minus 9 months: February has no 30th
    ],
)
def test_since_takes_dates_and_relative_days(value: str, day: date) -> None:
    assert filters(f"since:{value}").since == day


@pytest.mark.parametrize(
    ("value", "day"), [("2025-11-03", date(2025, 11, 3)), ("2024-02", date(2024, 2, 29)), ("2024", date(2024, 12, 31))]
)
def test_until_covers_the_whole_month_or_year(value: str, day: date) -> None:
    assert filters(f"until:{value}").until == day


def test_relative_days_count_from_the_given_day_not_the_clock() -> None:
    later = parse_search("since:1w", today=date(2030, 1, 3))
    assert isinstance(later, Query) and later.filters.since == date(2029, 12, 27)


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (">=3", Count(">=", 3)),
        (">3", Count(">", 3)),
        ("=3", Count("=", 3)),
        ("3", Count(">=", 3)),
        ("<=3", Count("<=", 3)),
        ("<3", Count("<", 3)),
        ("&gt;=3", Count(">=", 3)),  # as Slack sends it
        ("&lt;3", Count("<", 3)),
        ("≥3", Count(">=", 3)),
        ("=>3", Count(">=", 3)),
    ],
)
def test_counts(value: str, count: Count) -> None:
    f = filters(f"votes:{value} upvotes:{value} replies:{value}")
    assert f.votes == f.upvotes == f.replies == (count,)


def test_two_counts_make_a_range() -> None:
    votes = filters("votes:>=2 votes:<5").votes
    assert [n for n in range(8) if all(c.matches(n) for c in votes)] == [2, 3, 4]


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("channel:<#C0001|ML-Papers>", Channel("C0001", "ml-papers")),
        ("channel:<#C0001>", Channel("C0001", None)),
        ("channel:#ml-papers", Channel(None, "ml-papers")),
        ("channel:ml-papers", Channel(None, "ml-papers")),
    ],
)
def test_channel(text: str, channel: Channel) -> None:
    assert filters(text).channel == channel


def test_discussed_saved_and_sort() -> None:
    assert filters("discussed:yes").discussed is True and filters("discussed:NO").discussed is False
    assert filters("saved:me").saved_by_me and not filters("x").saved_by_me
    assert [filters(f"sort:{s}").sort for s in ("votes", "Replies", "upvotes", "date", "relevance", "vote")] == [
        "votes",
        "replies",
        "upvotes",
        "date",
        "relevance",
        "votes",
    ]


@pytest.mark.parametrize(
    ("topic", "normal"),
    [
        *[("cs.cl", "cs.CL"), ("STAT.ml", "stat.ML"), ("physics.Optics", "physics.optics"), ("Agents", "agents")],
        *[("cond-mat.mes-hall", "cond-mat.mes-hall"), ("q-bio.nc", "q-bio.NC"), ("large  language", "large language")],
    ],
)
def test_topics_are_written_the_way_arxiv_writes_them(topic: str, normal: str) -> None:
    assert normalize_topic(topic) == normal


def test_links_ids_and_colons_in_prose_stay_search_text() -> None:
    q = query("LLM:reasoning https://example.com/a:b arXiv:2410.13732 <https://x.org|x>")
    assert q.words == ("LLM:reasoning", "https://example.com/a:b", "arXiv:2410.13732", "https://x.org")
    assert q.filters.empty


@pytest.mark.parametrize(
    "text",
    ["2410.13732", "arXiv:2410.13732v2", "https://arxiv.org/pdf/2410.13732v1", "<https://hf.co/papers/2410.13732>"],
)
def test_a_paper_reference_alone_is_that_paper(text: str) -> None:
    assert query(text).paper_id == "2410.13732"


def test_words_around_a_reference_make_it_a_search() -> None:
    assert query("2410.13732 diffusion").paper_id is None


# ---- mistakes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "token", "says"),
    [
        ("since:yesterdayish", "since:yesterdayish", "`since:` takes a date like 2025-11-03 or 7d, 2w, 3m"),
        ("until:soon", "until:soon", "`until:` takes a date"),
        ("since:2025-02-30", "since:2025-02-30", "not a day on the calendar"),
        ("since:2025-13", "since:2025-13", "not a day on the calendar"),
        ("since:99999y", "since:99999y", "not a day on the calendar"),
        ("since:1w until:2w", "until:2025-11-16", "is after"),
        ("since:1w since:2w", "since:2w", "Give `since:` once"),
        ("votes:many", "votes:many", "`votes:` takes a number"),
        ("votes:>=-1", "votes:>=-1", "`votes:` takes a number"),
        ("upvotes:³", "upvotes:³", "`upvotes:` takes a number"),
        ("replies:", "replies:", "`replies:` takes a number"),
        ("author:", "author:", "`author:` needs a value"),
        ('keyword:""', 'keyword:""', "`keyword:` needs a value"),
        ("author:<@U0001>", "author:<@U0001>", "not a Slack person"),
        ("channel:#no!", "channel:#no!", "`channel:` takes a channel"),
        ("channel:#a channel:#b", "channel:#b", "Give `channel:` once"),
        ("discussed:maybe", "discussed:maybe", "`yes` or `no`"),
        ("saved:you", "saved:you", "it takes `me`"),
        ("sort:votez", "sort:votez", "did you mean `votes`?"),
        ("sort:banana", "sort:banana", "`votes`, `replies`, `upvotes`, `date` or `relevance`"),
        ("autor:ho", "autor:ho", "`autor:` is not a term: did you mean `author:`?"),
        ("topc:cs.CL", "topc:cs.CL", "did you mean `topic:`?"),
        ("<#C0001|ml> x", "<#C0001|ml>", "write `channel:#ml`"),
        ("<@U0001>", "<@U0001>", "saved:me"),
        ("x" * 501, "x" * 39 + "…", "at most 500 characters"),
    ],
)
def test_a_bad_term_is_named_with_the_fix(text: str, token: str, says: str) -> None:
    error = problem(text)
    assert error.token == token and says in error.problem
    assert all(f"`{name}:`" in error.usage for name in TERM_NAMES)
    assert error.usage.startswith("Usage: `/papers search")


def test_an_empty_search_asks_for_something() -> None:
    assert "needs words" in problem("").problem


def test_filter_takes_terms_only() -> None:
    done = parse_filter("discussed:yes since:2w", today=TODAY)
    assert done == Query("", Filters(discussed=True, since=date(2025, 11, 16)))
    words = parse_filter("diffusion votes:3", today=TODAY)
    assert isinstance(words, ParseError) and "`/papers search diffusion`" in words.problem
    empty = parse_filter("", today=TODAY)
    assert isinstance(empty, ParseError) and "at least one term" in empty.problem


def test_the_slash_command_tokens_go_straight_in() -> None:
    invocation = parse("search votes:&gt;=2 <https://arxiv.org/abs/2410.13732|paper>")
    assert not isinstance(invocation, ParseError)
    q = parse_search(invocation.args, today=TODAY)
    assert isinstance(q, Query) and q.paper_id == "2410.13732" and q.filters.votes == (Count(">=", 2),)


# ---- top ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "period", "limit", "since"),
    [
        ("", "week", 10, NOW - timedelta(days=7)),
        ("today", "today", 10, NOW - timedelta(days=1)),
        ("month 20", "month", 20, NOW - timedelta(days=30)),
        ("20 Month", "month", 20, NOW - timedelta(days=30)),
        ("year 1", "year", 1, NOW - timedelta(days=365)),
        ("50 all", "all", 50, None),
        ("5", "week", 5, NOW - timedelta(days=7)),
    ],
)
def test_top_takes_period_and_number_in_either_order(
    text: str, period: str, limit: int, since: datetime | None
) -> None:
    assert parse_top(text, now=NOW) == Top(period, limit, since)  # type: ignore[arg-type]  # period is a Period literal


def test_top_takes_terms_and_a_since_term_sets_the_window() -> None:
    top = parse_top("topic:cs.CL since:2025-11-01 3", now=NOW)
    assert isinstance(top, Top) and top.limit == 3 and top.period == "all"
    assert top.since == datetime(2025, 11, 1, tzinfo=UTC) and top.filters.topics == ("cs.CL",)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0", "from 1 to 50"),
        ("51", "from 1 to 50"),
        ("5 6", "Give one number"),
        ("week month", "Give one period"),
        ("wek", "did you mean `week`?"),
        ("diffusion", "`/papers search diffusion sort:votes`"),
        ("month since:2w", "not both"),
    ],
)
def test_top_mistakes(text: str, says: str) -> None:
    error = parse_top(text, now=NOW)
    assert isinstance(error, ParseError) and says in error.problem and error.usage.startswith("Usage: `/papers top")


# ---- show -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "arxiv_id"),
    [
        ("2410.13732", "2410.13732"),
        ("arXiv:2410.13732v2", "2410.13732"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136", "math/0309136"),
        ("https://arxiv.org/abs/2410.13732v3", "2410.13732"),
        ("https://arxiv.org/pdf/2410.13732v1.pdf", "2410.13732"),
        ("https://arxiv.org/html/2410.13732v2", "2410.13732"),
        ("https://huggingface.co/papers/2410.13732", "2410.13732"),
        ("hf.co/papers/2410.13732", "2410.13732"),
        ("https://www.alphaxiv.org/abs/2410.13732", "2410.13732"),
        ("https://www.alphaxiv.org/overview/2410.13732v1", "2410.13732"),
        ("<https://arxiv.org/abs/2410.13732|arxiv.org/abs/2410.13732>", "2410.13732"),
    ],
)
def test_show_takes_every_id_and_link_form(text: str, arxiv_id: str) -> None:
    assert parse_show(text) == PaperRef(arxiv_id)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "needs an arXiv id"),
        ("attention is all you need", "`/papers search attention is all you need`"),
        ("https://example.com/?u=arxiv.org/abs/2410.13732", "not `https://example.com"),
        ("2410.13732 2306.00356", "takes one"),
    ],
)
def test_show_mistakes(text: str, says: str) -> None:
    error = parse_show(text)
    assert isinstance(error, ParseError) and says in error.problem and error.subcommand == "show"


# ---- subscribe / unsubscribe ----------------------------------------------------------------------------------


def test_subscribe_normalizes_to_one_canonical_alert() -> None:
    one = parse_subscription('World models author:"Yann  LeCun" topic:CS.lg keyword:world')
    two = parse_subscription('topic:cs.LG models author:"yann lecun" world')
    assert one == Subscription(("models", "world"), ("Yann LeCun",), ("cs.LG",))
    assert isinstance(two, Subscription) and two.text == 'models world author:"yann lecun" topic:cs.LG'
    assert isinstance(one, Subscription) and one.text == 'models world author:"Yann LeCun" topic:cs.LG'


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "needs keywords"),
        ("votes:3", "`votes:` does not apply here"),
        ("since:2w", "`since:` does not apply here"),
        ("autor:ho", "did you mean `author:`?"),
        ("author:", "needs a value"),
        ("x" * 301, "at most 300 characters"),
    ],
)
def test_subscribe_mistakes(text: str, says: str) -> None:
    error = parse_subscription(text)
    assert isinstance(error, ParseError) and says in error.problem
    assert error.usage.startswith("Usage: `/papers subscribe") and "`votes:`" not in error.usage


ALERT_WORD = st.text(alphabet="abcXYZ0123 -_.'’&/", min_size=1, max_size=12)


@example(keywords=[], authors=["//"], topics=[])  # once read back as the link-like keyword `author://`
@given(
    st.lists(ALERT_WORD, max_size=4),
    st.lists(ALERT_WORD, max_size=3),
    st.lists(st.sampled_from(["cs.CL", "stat.ml", "agents", "physics.optics"]), max_size=2),
)
def test_an_alerts_text_reads_back_as_the_same_alert(
    keywords: list[str], authors: list[str], topics: list[str]
) -> None:
    typed = " ".join(
        [*(f'"{k}"' for k in keywords), *(f'author:"{a}"' for a in authors)] + [f"topic:{t}" for t in topics]
    )
    alert = parse_subscription(typed)
    if isinstance(alert, Subscription):
        assert parse_subscription(alert.text) == alert


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", Unsubscribe((2,))),
        ("3 1,3 #2", Unsubscribe((1, 2, 3))),
        ("all", Unsubscribe(everything=True)),
        ("ALL", Unsubscribe(everything=True)),
    ],
)
def test_unsubscribe(text: str, expected: Unsubscribe) -> None:
    assert parse_unsubscribe(text) == expected


@pytest.mark.parametrize("text", ["", "0", "two", "all 2", "-1", "١"])
def test_unsubscribe_mistakes(text: str) -> None:
    error = parse_unsubscribe(text)
    assert isinstance(error, ParseError) and "subscriptions" in error.problem and error.subcommand == "unsubscribe"


# ---- properties -----------------------------------------------------------------------------------------------

TERMISH = st.lists(
    st.sampled_from(
        [
            *["author:", "since:", "until:", "votes:", "sort:", "channel:", "topic:", "saved:", "discussed:", "autor:"],
            *[
                "&gt;=",
                "&lt;",
                "3",
                "2w",
                "2025-02-30",
                "<#C1|x>",
                "<@U1>",
                '"',
                "me",
                "yes",
                " ",
                "x",
                "\x00",
                "\ud800",
            ],
            *["99999999999", "9999y", "https://arxiv.org/abs/2410.13732", "--share", "all", "month", "51", "#"],
        ]
    ),
    max_size=30,
).map("".join)


@given(st.one_of(TERMISH, st.text(max_size=200)))
def test_no_parser_raises_and_errors_say_something(text: str) -> None:
    results = [
        parse_search(text, today=TODAY),
        parse_filter(text, today=TODAY),
        parse_top(text, now=NOW),
        parse_show(text),
        parse_subscription(text),
        parse_unsubscribe(text),
    ]
    for result in results:
        if isinstance(result, ParseError):
            assert result.problem.strip() and result.usage.strip() and result.subcommand


def test_the_help_lists_exactly_the_terms_the_parser_knows() -> None:
    for name in TERM_NAMES:
        assert isinstance(parse_search(f"{name}:", today=TODAY), ParseError)  # known: a missing value is refused
    assert isinstance(parse_search("nonsense:x", today=TODAY), Query)  # unknown and not close: search text


def test_docstring_examples_hold() -> None:
    for module in (bot.search.query, bot.search.arguments):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
