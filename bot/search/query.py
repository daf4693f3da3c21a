"""The query language of `search`, `filter` and `top`: terms like `author:Hinton`, `since:2w`, `votes:>=3`.

Pure: relative dates count back from a `today` passed in (no clock is read), nothing touches storage. Terms combine
with AND: a paper matches a query when it matches every term, so repeated `author:`, `topic:` or `keyword:` terms
must all match. Words that are not terms are the search text. What is wrong comes back as a `ParseError` naming
the term, the problem and the valid terms; nothing here raises for what a person typed.
"""

from __future__ import annotations

import calendar
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal, TypeVar, cast

from bot.command_text import (
    ChannelRef,
    CommandTextError,
    Field,
    Flag,
    ParseError,
    Token,
    Url,
    UserRef,
    Word,
    did_you_mean,
    mention,
    shown,
    tokenize,
    unescape,
)
from bot.links import paper_id
from bot.subcommands import SUBCOMMANDS, TERM_NAMES, usage_of

T = TypeVar("T")
Sort = Literal["votes", "replies", "upvotes", "date", "relevance"]
Op = Literal[">=", ">", "=", "<=", "<"]
SORTS: tuple[Sort, ...] = ("votes", "replies", "upvotes", "date", "relevance")
MAX_TEXT = 500  # characters of search text: longer is a paste accident, not a query
MAX_VALUE = 200

_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "=": operator.eq,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Count:
    """A comparison with a count: `votes:>=3` is `Count(">=", 3)`; `votes:3` means the same."""

    op: Op
    n: int

    def matches(self, value: int) -> bool:
        """Whether `value` passes: `Count(">=", 3).matches(3) is True`."""
        return _OPS[self.op](value, self.n)

    def __str__(self) -> str:
        return f"{self.op}{self.n}"


@dataclass(frozen=True)
class Channel:
    """A channel a term names: by id when Slack encoded it (`<#C123|ml>`), else by name (`#ml`, lower-case)."""

    id: str | None
    name: str | None


@dataclass(frozen=True)
class Filters:
    """Every term of a query; all must hold. Empty tuples and None mean "no condition". `since`/`until` are
    inclusive days; `votes`/`upvotes`/`replies` hold every comparison given (`votes:>=2 votes:<=5` is a range)."""

    authors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    votes: tuple[Count, ...] = ()
    upvotes: tuple[Count, ...] = ()
    replies: tuple[Count, ...] = ()
    channel: Channel | None = None
    discussed: bool | None = None
    saved_by_me: bool = False
    sort: Sort | None = None

    @property
    def empty(self) -> bool:
        """True when no term was given."""
        return self == Filters()


@dataclass(frozen=True)
class Query:
    """Search text and terms. `text` keeps "quoted phrases" in straight quotes; `words` are its words and phrases
    one by one, unquoted.

    >>> q = parse_search('"world models" author:LeCun since:2w votes:>=2', today=date(2025, 11, 30))
    >>> q.text, q.words, q.filters.authors, q.filters.since, q.filters.votes
    ('"world models"', ('world models',), ('LeCun',), datetime.date(2025, 11, 16), (Count(op='>=', n=2),))
    """

    text: str
    filters: Filters = field(default_factory=Filters)
    words: tuple[str, ...] = ()

    @property
    def paper_id(self) -> str | None:
        """The arXiv id when the whole text is one paper's id or link: `search 2410.13732` looks that paper up."""
        return paper_id(self.text) if len(self.words) == 1 else None


_ALIASES = {
    "authors": "author",
    "topics": "topic",
    "category": "topic",
    "keywords": "keyword",
    "vote": "votes",
    "upvote": "upvotes",
    "reply": "replies",
    "order": "sort",
}
_SORT_ALIASES: dict[str, Sort] = {"vote": "votes", "reply": "replies", "upvote": "upvotes", "new": "date"}
_YES_NO = dict.fromkeys(("y", "true", "on"), "yes") | dict.fromkeys(("n", "false", "off"), "no")
_COUNT = re.compile(r"(>=|=>|≥|>|<=|=<|≤|<|==|=)?\s*([0-9]{1,9})", re.ASCII)
_CHANNEL_NAME = re.compile(r"#?([\w.-]{1,80})")
# arXiv's archives that have subject classes (arxiv.org/category_taxonomy).
_CATEGORY = re.compile(
    r"(cs|math|stat|eess|econ|q-bio|q-fin|physics|astro-ph|cond-mat|nlin)\.([a-z]+(?:-[a-z]+)?)", re.IGNORECASE
)


# arXiv's archives without subject classes, and two that had none before 2009: each is a paper's category itself.
_ARCHIVE = re.compile(r"gr-qc|quant-ph|math-ph|hep-(?:th|ph|ex|lat)|nucl-(?:th|ex)|astro-ph|cond-mat", re.IGNORECASE)


def is_category(topic: str) -> bool:
    """True when a `topic:` value is an arXiv category (`cs.CL`, `gr-qc`); anything else is a Hugging Face keyword,
    also looked for in titles.

    >>> is_category("cs.CL"), is_category("hep-th"), is_category("agents"), is_category("physics")
    (True, True, False, False)
    """
    return bool(_CATEGORY.fullmatch(topic) or _ARCHIVE.fullmatch(topic))


def normalize_topic(topic: str) -> str:
    """An arXiv category in arXiv's spelling; any other topic (a Hugging Face keyword) lower-cased.

    >>> normalize_topic("CS.cl"), normalize_topic("cond-mat.Mes-Hall"), normalize_topic("Agents")
    ('cs.CL', 'cond-mat.mes-hall', 'agents')
    """
    topic = " ".join(topic.split())
    match = _CATEGORY.fullmatch(topic)
    if match is None:
        return topic.lower()
    archive, subject = match[1].lower(), match[2]
    # arXiv writes subject classes upper case (cs.CL, math.GT), except physics' and hyphenated ones (physics.optics).
    lower = archive == "physics" or "-" in subject
    return f"{archive}.{subject.lower() if lower else subject.upper()}"


def parse_date(term: str, value: str, *, today: date, end: bool = False) -> date:
    """The day a `since:`/`until:` value names: YYYY-MM-DD, YYYY-MM, YYYY (their first day, or last with `end`),
    `today`, `yesterday`, or N days/weeks/months/years back (`7d`, `2w`, `3m`, `1y`). Raises `CommandTextError`.

    >>> today = date(2025, 11, 30)
    >>> [str(parse_date("since", v, today=today)) for v in ("2025-11-03", "2025-02", "7d", "2w", "3m", "1y")]
    ['2025-11-03', '2025-02-01', '2025-11-23', '2025-11-16', '2025-08-30', '2024-11-30']
    >>> parse_date("until", "2025-02", today=today, end=True)
    datetime.date(2025, 2, 28)
    """
    text = value.strip().lower()
    try:
        if day := _relative_day(text, today):
            return day
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return date.fromisoformat(text)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
            year, month = int(text[:4]), int(text[5:])
            return date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        if re.fullmatch(r"[0-9]{4}", text):
            return date(int(text), 12, 31) if end else date(int(text), 1, 1)
    except (ValueError, OverflowError):
        raise CommandTextError(
            f"`{term}:{shown(value)}` is not a day on the calendar.", shown(f"{term}:{value}")
        ) from None
    raise CommandTextError(
        f"`{term}:` takes a date like 2025-11-03 or 7d, 2w, 3m — not `{shown(value)}`.", shown(f"{term}:{value}")
    )


def _relative_day(text: str, today: date) -> date | None:
    if text in ("today", "yesterday"):
        return today - timedelta(days=text == "yesterday")
    match = re.fullmatch(r"([0-9]{1,5})([dwmy])", text)
    if match is None:
        return None
    n, unit = int(match[1]), match[2]
    if unit in "dw":
        return today - timedelta(days=n * (7 if unit == "w" else 1))
    months = today.year * 12 + today.month - 1 - n * (12 if unit == "y" else 1)
    year, month = divmod(months, 12)
    return today.replace(year=year, month=month + 1, day=min(today.day, calendar.monthrange(year, month + 1)[1]))


def parse_count(term: str, value: str) -> Count:
    """`votes:` and friends: `>=N`, `>N`, `=N`, `<=N`, `<N`, or `N` (at least N). Raises `CommandTextError`.

    >>> parse_count("votes", ">=3"), parse_count("replies", "2"), parse_count("upvotes", "< 10")
    (Count(op='>=', n=3), Count(op='>=', n=2), Count(op='<', n=10))
    """
    match = _COUNT.fullmatch(value.strip())
    if match is None:
        raise CommandTextError(
            f"`{term}:` takes a number with `>=`, `>`, `=`, `<=` or `<`, like `{term}:>=3` — not `{shown(value)}`.",
            shown(f"{term}:{value}"),
        )
    op = {"=>": ">=", "≥": ">=", "=<": "<=", "≤": "<=", "==": "=", None: ">="}.get(match[1], match[1])
    return Count(cast(Op, op), int(match[2]))


def _text_value(term: str, token: Field) -> str:
    value = " ".join(token.value.split())
    if isinstance(token.ref, UserRef | ChannelRef):
        what = "a Slack person" if isinstance(token.ref, UserRef) else "a channel"
        raise CommandTextError(f"`{term}:` takes words, not {what}: write the name out.", shown(token.raw))
    if not value:
        example = '"Geoffrey Hinton"' if term == "author" else "diffusion"
        raise CommandTextError(f"`{term}:` needs a value, like `{term}:{example}`.", shown(token.raw))
    if len(value) > MAX_VALUE:
        raise CommandTextError(f"`{term}:` takes at most {MAX_VALUE} characters.", shown(token.raw))
    return value


def _channel(token: Field) -> Channel:
    if isinstance(token.ref, ChannelRef):
        return Channel(token.ref.id, token.ref.name.lower() if token.ref.name else None)
    match = _CHANNEL_NAME.fullmatch(token.value.strip())
    if match is None or token.ref is not None:
        raise CommandTextError(
            f"`channel:` takes a channel like `channel:#ml-papers` — not `{shown(token.value)}`.", shown(token.raw)
        )
    return Channel(None, match[1].lower())


def _choice(term: str, value: str, choices: Sequence[str], aliases: dict[str, str] | None = None) -> str:
    word = value.strip().lower()
    word = (aliases or {}).get(word, word)
    if word in choices:
        return word
    guesses = did_you_mean(word, choices)
    hint = f"did you mean {mention(guesses)}?" if guesses else f"it takes {mention(choices)}."
    raise CommandTextError(f"`{term}:{shown(value)}` is not a choice: {hint}", shown(f"{term}:{value}"), guesses)


def _once(term: str, current: object, token: Field) -> None:
    if current not in (None, False):
        raise CommandTextError(f"Give `{term}:` once; `{shown(token.raw)}` repeats it.", shown(token.raw))


def _apply(filters: Filters, term: str, token: Field, today: date) -> Filters:
    """`filters` with one more term."""
    value, changes = token.value, dict[str, Any]()
    if term in ("author", "keyword", "topic"):
        text = _text_value(term, token)
        name = term + "s"
        changes[name] = (*getattr(filters, name), normalize_topic(text) if term == "topic" else text)
    elif term in ("votes", "upvotes", "replies"):
        changes[term] = (*getattr(filters, term), parse_count(term, value))
    elif term in ("since", "until"):
        changes[term] = parse_date(term, value, today=today, end=term == "until")
    elif term == "channel":
        changes[term] = _channel(token)
    elif term == "discussed":
        changes[term] = _choice(term, value, ("yes", "no"), _YES_NO) == "yes"
    elif term == "saved":
        changes["saved_by_me"] = _choice(term, value, ("me",)) == "me"
    else:
        changes[term] = _choice(term, value, SORTS, dict(_SORT_ALIASES))
    if term not in ("author", "keyword", "topic", "votes", "upvotes", "replies"):
        _once(term, getattr(filters, next(iter(changes))), token)
    return replace(filters, **changes)


def term_name(token: Field, allowed: Sequence[str] = TERM_NAMES) -> str | None:
    """The term a `name:value` token is, or None when it is not one and not close to one (`LLM:reasoning` is
    search text); raises `CommandTextError` for a near miss (`autor:`) or a term `allowed` does not include."""
    name = _ALIASES.get(token.name, token.name)
    if name in TERM_NAMES:
        if name not in allowed:
            raise CommandTextError(
                f"`{name}:` does not apply here; it takes {mention(allowed, ':')}.", shown(token.raw)
            )
        return name
    guesses = did_you_mean(token.name, allowed)
    if guesses:
        raise CommandTextError(
            f"`{shown(token.name)}:` is not a term: did you mean {mention(guesses, ':')}?", shown(token.raw), guesses
        )
    return None


def read_terms(
    args: Sequence[Token], *, today: date, allowed: Sequence[str] = TERM_NAMES
) -> tuple[tuple[Token, ...], Filters]:
    """The terms among `args` as `Filters`, and the other tokens in order. `author: Hinton` (a space after the
    colon) is read as `author:Hinton`. Raises `CommandTextError` for a bad term."""
    filters, rest, position = Filters(), [], 0
    while position < len(args):
        token, position = args[position], position + 1
        name = term_name(token, allowed) if isinstance(token, Field) else None
        if name is None or not isinstance(token, Field):
            rest.append(token)
            continue
        if not token.value and not token.quoted and position < len(args):
            token, position = _joined(token, args[position]), position + 1
        filters = _apply(filters, name, token, today)
    if filters.since and filters.until and filters.since > filters.until:
        since, until = filters.since.isoformat(), filters.until.isoformat()
        raise CommandTextError(f"`since:{since}` is after `until:{until}`, so nothing could match.", f"until:{until}")
    return tuple(rest), filters


def _joined(term: Field, value: Token) -> Field:
    raw = f"{term.raw} {value.raw}"
    if isinstance(value, Word):
        return Field(term.name, value.text, raw, quoted=value.quoted)
    if isinstance(value, ChannelRef | UserRef | Url):
        return Field(term.name, value.url if isinstance(value, Url) else value.name or value.id, raw, ref=value)
    raise CommandTextError(f"`{term.name}:` needs a value right after the colon.", shown(raw))


def search_words(rest: Sequence[Token]) -> tuple[str, ...]:
    """The search words and phrases of the tokens that are not terms; raises for a channel, person or flag."""
    words: list[str] = []
    for token in rest:
        if isinstance(token, Word):
            words.append(token.text)
        elif isinstance(token, Url):
            words.append(token.url)
        elif isinstance(token, Field):
            words.append(unescape(token.raw))  # not a term (`LLM:reasoning`): search text as typed
        elif isinstance(token, ChannelRef):
            name = token.name or token.id
            raise CommandTextError(f"To look in a channel, write `channel:#{shown(name)}`.", shown(token.raw))
        elif isinstance(token, UserRef):
            raise CommandTextError("People are not search words: `saved:me` finds what you saved.", shown(token.raw))
        elif isinstance(token, Flag):
            raise CommandTextError(f"`{shown(token.raw)}` goes right after the subcommand.", shown(token.raw))
    return tuple(word for word in words if word.strip())


def _query(words: tuple[str, ...], filters: Filters, quoted: set[str]) -> Query:
    text = " ".join(f'"{word}"' if word in quoted else word for word in words)
    if len(text) > MAX_TEXT:
        raise CommandTextError(f"Search text is at most {MAX_TEXT} characters; this is {len(text)}.", shown(text))
    return Query(text, filters, words)


def answer(subcommand: str, command: str, build: Callable[[], T]) -> T | ParseError:
    """What `build` returns, or its `CommandTextError` as a `ParseError` with `subcommand`'s usage."""
    try:
        return build()
    except CommandTextError as exc:
        return exc.error(usage_of(SUBCOMMANDS[subcommand], command), subcommand)


def tokens_of(args: str | Sequence[Token]) -> Sequence[Token]:
    """Tokens as given, or those of a text (the CLI passes text; the slash command an `Invocation`'s args)."""
    return tokenize(args) if isinstance(args, str) else args


def parse_search(args: str | Sequence[Token], *, today: date, command: str = "/papers") -> Query | ParseError:
    """`/papers search <text> [term …]`: words, terms, or both (an arXiv id or link alone looks that paper up)."""

    def build() -> Query:
        rest, filters = read_terms(tokens_of(args), today=today)
        words = search_words(rest)
        if not words and filters.empty:
            raise CommandTextError("`search` needs words, an arXiv id or link, or terms.")
        quoted = {t.text for t in rest if isinstance(t, Word) and t.quoted and " " in t.text}
        return _query(words, filters, quoted)

    return answer("search", command, build)


def parse_filter(args: str | Sequence[Token], *, today: date, command: str = "/papers") -> Query | ParseError:
    """`/papers filter <term …>`: terms only, at least one; the query's text is empty.

    >>> parse_filter("discussed:no sort:date", today=date(2025, 11, 30)).filters
    Filters(authors=(), topics=(), keywords=(), since=None, until=None, votes=(), upvotes=(), replies=(), \
channel=None, discussed=False, saved_by_me=False, sort='date')
    """

    def build() -> Query:
        rest, filters = read_terms(tokens_of(args), today=today)
        if words := search_words(rest):
            raise CommandTextError(
                f"`filter` takes only terms, not `{shown(words[0])}`: to search for words, write "
                f"`{command} search {shown(' '.join(words))}`.",
                shown(words[0]),
            )
        if filters.empty:
            raise CommandTextError("`filter` needs at least one term, like `filter votes:>=3`.")
        return Query("", filters)

    return answer("filter", command, build)
