"""The arguments of `/papers show`, `top`, `subscribe` and `unsubscribe`, read into typed values.

Pure, like the query language they build on (bot/search/query.py): `top`'s window is computed from a `now` passed
in, and every mistake comes back as a `ParseError` that says what was wrong and how to write it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from bot.command_text import CommandTextError, ParseError, Token, Url, Word, did_you_mean, mention, shown
from bot.links import paper_id
from bot.search.query import Filters, answer, read_terms, search_words, tokens_of

Period = Literal["today", "week", "month", "year", "all"]
PERIODS: tuple[Period, ...] = ("today", "week", "month", "year", "all")
# Rolling windows: "top month" on the 2nd of a month should not be nearly empty.
_WINDOWS = {
    "today": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_PERIOD_ALIASES: dict[str, Period] = {"day": "today", "24h": "today", "7d": "week", "30d": "month", "ever": "all"}
TOP_DEFAULT, TOP_MAX = 10, 50
ALERT_TERMS = ("author", "topic", "keyword")
MAX_ALERT = 300  # characters of an alert's text: it is stored and shown in a list
_NUMBER = re.compile(r"#?([0-9]{1,4})", re.ASCII)


@dataclass(frozen=True)
class PaperRef:
    """The paper `show` asks for, by versionless arXiv id."""

    arxiv_id: str


@dataclass(frozen=True)
class Top:
    """`top`: the period, how many papers, the start of the window (None: all time) and any terms. With
    `since:`/`until:` terms the period is `all` and the window is theirs: `since` is then since:'s day at 0:00."""

    period: Period
    limit: int
    since: datetime | None
    filters: Filters = field(default_factory=Filters)


@dataclass(frozen=True)
class Subscription:
    """An alert: a new paper matches when it has every keyword, author and topic (terms combine with AND).
    Values are normalized (keywords lower-case, topics in arXiv's spelling, repeats dropped, each kind sorted),
    so two spellings of one alert are equal and have one `text`."""

    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The canonical text to store and show; `parse_subscription(s.text) == s`.

        >>> parse_subscription('World  models author:"Yann LeCun" diffusion topic:CS.lg').text
        'diffusion models world author:"Yann LeCun" topic:cs.LG'
        """
        words = [_quoted(k) for k in self.keywords]
        words += [f"author:{_quoted(a)}" for a in self.authors] + [f"topic:{_quoted(t)}" for t in self.topics]
        return " ".join(words)


@dataclass(frozen=True)
class Unsubscribe:
    """`unsubscribe`: the alerts' numbers as `subscriptions` lists them (from 1), or `everything`."""

    numbers: tuple[int, ...] = ()
    everything: bool = False


def _quoted(value: str) -> str:
    # A value starting with `-` reads as a flag, one starting with `/` makes `author://x` read as a link.
    plain = value and not any(c.isspace() or c in "\"“”‘'’:<>&" for c in value) and not value.startswith(("-", "/"))
    return value if plain else f'"{value}"'


def parse_show(args: str | Sequence[Token], *, command: str = "/papers") -> PaperRef | ParseError:
    """`/papers show <arXiv id or link>`.

    >>> parse_show("arXiv:2410.13732v2"), parse_show("<https://www.alphaxiv.org/overview/2410.13732|x>")
    (PaperRef(arxiv_id='2410.13732'), PaperRef(arxiv_id='2410.13732'))
    """

    def build() -> PaperRef:
        tokens = tokens_of(args)
        token = tokens[0] if len(tokens) == 1 else None
        if token is not None and (found := paper_id(token.url if isinstance(token, Url) else token.raw)):
            return PaperRef(found)
        if not tokens:
            raise CommandTextError("`show` needs an arXiv id or a paper link, like `show 2410.13732`.")
        words = " ".join(t.text if isinstance(t, Word) else t.raw for t in tokens)
        what = "one arXiv id or arXiv, Hugging Face or alphaXiv link"
        raise CommandTextError(
            f"`show` takes {what}, not `{shown(words)}`; to look for words, write `{command} search {shown(words)}`.",
            shown(words),
        )

    return answer("show", command, build)


def parse_top(args: str | Sequence[Token], *, now: datetime, command: str = "/papers") -> Top | ParseError:
    """`/papers top [today|week|month|year|all] [N] [term …]`, the period and N in either order.

    >>> now = datetime(2025, 11, 30, 12, 0)
    >>> top = parse_top("", now=now)
    >>> top.period, top.limit, top.since, top.filters.empty
    ('week', 10, datetime.datetime(2025, 11, 23, 12, 0), True)
    >>> top = parse_top("20 Month topic:cs.CL", now=now)
    >>> top.period, top.limit, top.since, top.filters.topics
    ('month', 20, datetime.datetime(2025, 10, 31, 12, 0), ('cs.CL',))
    """

    def build() -> Top:
        rest, filters = read_terms(tokens_of(args), today=now.date())
        period, limit = _period_and_limit(rest, command)
        if filters.since or filters.until:
            if period is not None:
                raise CommandTextError(f"Give a period (`{period}`) or `since:`/`until:`, not both.", period)
            start = datetime.combine(filters.since, time(), now.tzinfo) if filters.since else None
            return Top("all", limit or TOP_DEFAULT, start, filters)
        period = period or "week"
        since = now - _WINDOWS[period] if period in _WINDOWS else None
        return Top(period, limit or TOP_DEFAULT, since, filters)

    return answer("top", command, build)


def _period_and_limit(rest: Sequence[Token], command: str) -> tuple[Period | None, int | None]:
    period: Period | None = None
    limit: int | None = None
    for token in rest:
        word = token.text.casefold() if isinstance(token, Word) and not token.quoted else ""
        raw = shown(token.raw)
        if word.isascii() and word.isdigit():
            if limit is not None or not 1 <= int(word) <= TOP_MAX:
                problem = "Give one number" if limit is not None else f"The number is from 1 to {TOP_MAX}"
                raise CommandTextError(f"{problem}, not `{raw}`.", raw)
            limit = int(word)
        elif (name := _PERIOD_ALIASES.get(word, word)) in PERIODS:
            if period is not None:
                raise CommandTextError(f"Give one period, not `{period}` and `{raw}`.", raw)
            period = name
        else:
            guesses = did_you_mean(word, PERIODS) if word else ()
            hint = (
                f"did you mean {mention(guesses)}?"
                if guesses
                else f"to rank a search, write `{command} search {shown(' '.join(search_words([token])))} sort:votes`."
            )
            raise CommandTextError(f"`top` takes a period and a number, not `{raw}`: {hint}", raw, guesses)
    return period, limit


def parse_subscription(args: str | Sequence[Token], *, command: str = "/papers") -> Subscription | ParseError:
    """`/papers subscribe <keywords | author:… | topic:…>`: at least one; words are keywords.

    >>> parse_subscription("Diffusion author:Ho topic:cs.cv")
    Subscription(keywords=('diffusion',), authors=('Ho',), topics=('cs.CV',))
    """

    def build() -> Subscription:
        # `today` only matters to since:/until:, which alerts do not take.
        rest, filters = read_terms(tokens_of(args), today=date(2000, 1, 1), allowed=ALERT_TERMS)
        keywords = _distinct(w.lower() for w in (*search_words(rest), *filters.keywords))
        alert = Subscription(keywords, _distinct(filters.authors), _distinct(filters.topics))
        if not (alert.keywords or alert.authors or alert.topics):
            raise CommandTextError("`subscribe` needs keywords, an `author:` or a `topic:`.")
        if len(alert.text) > MAX_ALERT:
            raise CommandTextError(f"An alert is at most {MAX_ALERT} characters; this one is {len(alert.text)}.")
        return alert

    return answer("subscribe", command, build)


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    """Sorted, without repeats that differ only in case or spacing (the first spelling wins)."""
    kept: dict[str, str] = {}
    for value in values:
        value = " ".join(value.replace('"', "").replace("“", "").replace("”", "").split())
        if value:
            kept.setdefault(value.casefold(), value)
    return tuple(sorted(kept.values(), key=str.casefold))


def parse_unsubscribe(args: str | Sequence[Token], *, command: str = "/papers") -> Unsubscribe | ParseError:
    """`/papers unsubscribe <n …|all>`, numbers as `subscriptions` lists them.

    >>> parse_unsubscribe("3 #1, 3"), parse_unsubscribe("ALL")
    (Unsubscribe(numbers=(1, 3), everything=False), Unsubscribe(numbers=(), everything=True))
    """

    def build() -> Unsubscribe:
        words = [(t.raw, part) for t in tokens_of(args) for part in t.raw.split(",") if part]
        if [part.lower() for _, part in words] == ["all"]:
            return Unsubscribe(everything=True)
        numbers: set[int] = set()
        for raw, part in words:
            match = _NUMBER.fullmatch(part)
            if match is None or int(match[1]) == 0:
                raise CommandTextError(
                    f"`unsubscribe` takes the numbers `{command} subscriptions` shows, or `all` alone — "
                    f"not `{shown(raw)}`.",
                    shown(raw),
                )
            numbers.add(int(match[1]))
        if not numbers:
            raise CommandTextError(f"Say which alert: a number `{command} subscriptions` shows, or `all`.")
        return Unsubscribe(tuple(sorted(numbers)))

    return answer("unsubscribe", command, build)
