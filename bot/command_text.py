"""What people type after `/papers`, read into typed values: pure, no Slack calls, no storage.

`tokenize` splits the text into words, "quoted phrases" and `field:value` terms, and decodes what Slack encodes in
a command's text (`&amp;` `&lt;` `&gt;`, `<#C123|general>`, `<@U123>`, `<https://…|label>`). `parse` finds the
subcommand (case-insensitive; a near miss gets "did you mean") and returns an `Invocation`, or a `ParseError` that
names what was wrong and shows the usage. `parse` never raises, whatever the text. The subcommands and their help
texts are `bot/subcommands.py`'s; what the arguments of search, top, filter and subscribe mean is
`bot/search/query.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.links import paper_id
from bot.subcommands import SUBCOMMANDS as SUBCOMMANDS  # the registry and help texts are this API's too
from bot.subcommands import Subcommand as Subcommand
from bot.subcommands import help_text as help_text
from bot.subcommands import overview, usage_of


@dataclass(frozen=True)
class Word:
    """A plain word, or a "quoted phrase" (`quoted`), with Slack's escapes undone."""

    text: str
    raw: str
    quoted: bool = False


@dataclass(frozen=True)
class ChannelRef:
    """A channel as Slack encodes it: `<#C123|general>` (id and name) or `<#C123>` (id only)."""

    id: str
    name: str | None
    raw: str


@dataclass(frozen=True)
class UserRef:
    """A person as Slack encodes them: `<@U123>` or `<@U123|jane>`."""

    id: str
    name: str | None
    raw: str


@dataclass(frozen=True)
class Url:
    """A link as Slack encodes it: `<https://…>` or `<https://…|label>`."""

    url: str
    label: str | None
    raw: str


@dataclass(frozen=True)
class Field:
    """A `name:value` term. `name` is lower-cased; `value` has quotes and Slack's escapes removed
    (`author:"Geoffrey Hinton"`, `votes:&gt;=3` → `>=3`); `ref` is set when the value was a Slack-encoded channel,
    person or link (`channel:<#C123|ml>`), and `value` is then its name, id or URL."""

    name: str
    value: str
    raw: str
    quoted: bool = False
    ref: ChannelRef | UserRef | Url | None = None


@dataclass(frozen=True)
class Flag:
    """A `--name` flag (also `—name`: phones and Macs turn `--` into a dash); `name` is lower-cased."""

    name: str
    raw: str


Token = Word | ChannelRef | UserRef | Url | Field | Flag


@dataclass(frozen=True)
class Invocation:
    """A subcommand and its arguments. `args` are the tokens after the subcommand's name without its flags
    (empty for `digest`, `config` and `export`, which read `raw_rest` with their own parsers); `raw_rest` is the
    text after the name as typed; `share` is `--share`; `topic` is the subcommand `help` was asked about."""

    name: str
    args: tuple[Token, ...] = ()
    raw_rest: str = ""
    share: bool = False
    topic: str | None = None


@dataclass(frozen=True)
class ParseError:
    """Text `/papers` cannot take: a one-sentence `problem` (mrkdwn backticks, not yet escaped), the offending
    `token` as typed (shortened), the `usage` to show, and the names it may have meant."""

    problem: str
    usage: str
    token: str | None = None
    suggestions: tuple[str, ...] = ()
    subcommand: str | None = None

    @property
    def message(self) -> str:
        """The problem, then the usage: the whole reply as plain text."""
        return f"{self.problem}\n{self.usage}"


class CommandTextError(ValueError):
    """Raised by `tokenize` (and the parsers built on it) for text it cannot read; `parse` returns it as a
    `ParseError` instead."""

    def __init__(self, problem: str, token: str | None = None, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.problem, self.token, self.suggestions = problem, token, suggestions

    def error(self, usage: str, subcommand: str | None = None) -> ParseError:
        """This problem with the usage to show beside it."""
        return ParseError(self.problem, usage, self.token, self.suggestions, subcommand)


# Separators: Unicode spaces, control characters and the zero-width characters copy-paste brings along.
_SEP = r"\s\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff"
_SPACES = re.compile(f"[{_SEP}]+")
_RUN = re.compile(f"[^{_SEP}<]+")
_OPENERS = "\"“”‘'"
_DOUBLE_CLOSE = re.compile('["“”]')
_SINGLE_CLOSE = re.compile("['’]")
_NAME = r"[A-Za-z][\w-]*"
_FIELD_QUOTE = re.compile(rf"({_NAME}):(?=[{_OPENERS}])")
_FIELD = re.compile(rf"({_NAME}):(.*)", re.DOTALL)
_FLAG = re.compile(rf"(?:--|—|–)({_NAME})")
_ENCODED = re.compile(
    r"#(?P<channel>[A-Z0-9]+)(?:\|(?P<channel_name>[^<>]*))?"
    r"|@(?P<user>[A-Z0-9]+)(?:\|(?P<user_name>[^<>]*))?"
    r"|!(?P<special>[^<>|]*)(?:\|(?P<special_label>[^<>]*))?"
    r"|(?P<url>[A-Za-z][A-Za-z0-9+.-]*:[^<>|\s]+)(?:\|(?P<label>[^<>]*))?"
)
_ENTITIES = re.compile("&(amp|lt|gt);")
# `https://…` and `arXiv:2410.13732` have a colon but are not terms.
_NOT_FIELDS = frozenset({"http", "https", "ftp", "mailto", "arxiv"})


def unescape(text: str) -> str:
    """Undo Slack's three escapes, once: `unescape("a &lt;b&gt; &amp;amp;") == "a <b> &amp;"`."""
    return _ENTITIES.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m[1]], text)


def shown(text: str, limit: int = 40) -> str:
    r"""`text` made safe to quote in a reply: one line, no backticks or lone surrogates, at most `limit` chars.

    >>> shown("a`b\nc"), shown("x" * 50, 10)
    ("a'b c", 'xxxxxxxxx…')
    """
    text = text[: limit * 4].encode("utf-8", "replace").decode("utf-8")
    text = " ".join(_SPACES.sub(" ", text.replace("`", "'")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tokenize(text: str) -> tuple[Token, ...]:
    """The tokens of `text`; raises `CommandTextError` for a quote that is never closed or a Slack mention such
    as `@here`. An apostrophe (`'`) that is never closed is only an apostrophe.

    >>> tokenize('author:"Yann LeCun" votes:&gt;=3')
    (Field(name='author', value='Yann LeCun', raw='author:"Yann LeCun"', quoted=True, ref=None), \
Field(name='votes', value='>=3', raw='votes:&gt;=3', quoted=False, ref=None))
    >>> tokenize("<#C0001|ml-papers> “world models” --share")
    (ChannelRef(id='C0001', name='ml-papers', raw='<#C0001|ml-papers>'), \
Word(text='world models', raw='“world models”', quoted=True), Flag(name='share', raw='--share'))
    """
    return tuple(_Scanner(text).tokens())


class _Scanner:
    """One pass over the text. Every search remembers where it failed, so no input makes it quadratic."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0
        self._gt = -1  # index of the next `>` at or after pos (-1: look it up; len(text): there is none)
        self._no_single_close_from = len(text) + 1

    def tokens(self) -> Iterator[Token]:
        while True:
            if spaces := _SPACES.match(self.text, self.pos):
                self.pos = spaces.end()
            if self.pos >= len(self.text):
                return
            yield self._token()

    def _token(self) -> Token:
        start, text = self.pos, self.text
        field = _FIELD_QUOTE.match(text, start)
        opener = field.end() if field else start
        if text[opener] in _OPENERS and (close := self._closing(opener)) >= 0:
            self.pos = close + 1
            value = unescape(text[opener + 1 : close])
            if field:
                return Field(field[1].lower(), value, text[start : self.pos], quoted=True)
            return Word(value, text[start : self.pos], quoted=True)
        while self.pos < len(text):
            if run := _RUN.match(text, self.pos):
                self.pos = run.end()
            elif text[self.pos] == "<":
                self.pos = self._encoding_end(self.pos) or self.pos + 1
            else:
                break
        return _classify(text[start : self.pos])

    def _closing(self, opener: int) -> int:
        """Where the quote at `opener` closes; -1 for an apostrophe that never does; raises for a quote."""
        text = self.text
        if text[opener] in "'‘":
            close = self._single_close(opener + 1)
            if close >= 0 or text[opener] == "'":  # `'90s` and `'til` are apostrophes, not quotes
                return close
        elif found := _DOUBLE_CLOSE.search(text, opener + 1):
            return found.start()
        after = shown(text[opener + 1 :])
        where = f"before `{after}`" if after else "at the end"
        raise CommandTextError(
            f"The quote {text[opener]} {where} is never closed: close it or remove it.", token=shown(text[opener:])
        )

    def _single_close(self, start: int) -> int:
        # A closing single quote must end a word: "‘Hinton’s model’" closes at the last one, not in "Hinton’s".
        position = start
        while position < self._no_single_close_from:
            found = _SINGLE_CLOSE.search(self.text, position)
            if found is None:
                self._no_single_close_from = start
                return -1
            after = found.end()
            if after == len(self.text) or _SPACES.match(self.text, after):
                return found.start()
            position = after
        return -1

    def _encoding_end(self, start: int) -> int | None:
        """The end of the Slack encoding `<…>` starting at `start`, or None when the `<` is only a `<`."""
        if self._gt < start:
            found = self.text.find(">", start)
            self._gt = len(self.text) if found < 0 else found
        if self._gt >= len(self.text) or not _ENCODED.fullmatch(self.text, start + 1, self._gt):
            return None
        return self._gt + 1


def _classify(raw: str) -> Token:
    if raw.startswith("<") and raw.endswith(">") and (decoded := _decode(raw)):
        return decoded
    if flag := _FLAG.fullmatch(raw):
        return Flag(flag[1].lower(), raw)
    field = _FIELD.fullmatch(raw)
    if field is None or field[1].lower() in _NOT_FIELDS or field[2].startswith("//"):
        return Word(unescape(raw), raw)
    value = field[2]
    ref = _decode(value) if value.startswith("<") and value.endswith(">") else None
    if isinstance(ref, ChannelRef | UserRef | Url):
        return Field(field[1].lower(), _ref_value(ref), raw, ref=ref)
    return Field(field[1].lower(), unescape(value), raw)


def _ref_value(ref: ChannelRef | UserRef | Url) -> str:
    if isinstance(ref, Url):
        return ref.url
    return ref.name or ref.id


def _decode(raw: str) -> Token | None:
    """The token a whole Slack encoding `<…>` stands for (None if `raw` is not one)."""
    match = _ENCODED.fullmatch(raw, 1, len(raw) - 1)
    if match is None:
        return None
    if match["channel"]:
        return ChannelRef(match["channel"], unescape(match["channel_name"] or "") or None, raw)
    if match["user"]:
        return UserRef(match["user"], unescape(match["user_name"] or "") or None, raw)
    if match["url"]:
        return Url(unescape(match["url"]), unescape(match["label"] or "") or None, raw)
    label = unescape(match["special_label"] or "")
    if (match["special"] or "").startswith("date^") and label:
        return Word(label, raw)  # a date Slack formats for the reader: its fallback text is what was typed
    name = label or "@" + (match["special"] or "").split("^")[0]
    raise CommandTextError(f"`{shown(name)}` is a Slack mention, and `/papers` takes none: remove it.", shown(name))


def did_you_mean(word: str, choices: Iterable[str]) -> tuple[str, ...]:
    """The choices `word` is probably a slip for: one or two typos away, or its start (`unsub`), best first.

    >>> did_you_mean("serch", ["search", "show", "top"]), did_you_mean("sub", ["subscribe", "subscriptions"])
    (('search',), ('subscribe', 'subscriptions'))
    >>> did_you_mean("banana", ["search", "show"])
    ()
    """
    word, options = word.casefold()[:40], list(choices)
    close = process.extract(word, options, scorer=DamerauLevenshtein.distance, score_cutoff=2, limit=None)
    near = [(distance, index, name) for name, distance, index in close if distance <= (1 if len(name) <= 5 else 2)]
    starts = [(1, index, name) for index, name in enumerate(options) if len(word) >= 3 and name.startswith(word)]
    ranked = sorted(set(near) | set(starts))
    return tuple(dict.fromkeys(name for _, _, name in ranked))[:2]


def mention(names: Iterable[str], suffix: str = "") -> str:
    """`mention(["top", "show", "search"]) == "`top`, `show` or `search`"`."""
    quoted = [f"`{name}{suffix}`" for name in names]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 2 else quoted)


def parse(text: str, *, command: str = "/papers") -> Invocation | ParseError:
    """The subcommand `text` asks for, or what is wrong with it. Empty text is `help`; text that is only a paper's
    id or link is `show`.

    >>> parse("Search diffusion --share")
    Invocation(name='search', args=(Word(text='diffusion', raw='diffusion', quoted=False),), \
raw_rest='diffusion --share', share=True, topic=None)
    >>> parse("serch diffusion").problem
    "I don't know the subcommand `serch`: did you mean `search`?"
    """
    stripped = _SPACES.sub(" ", text).strip()
    head, _, rest = stripped.partition(" ")
    sub = SUBCOMMANDS.get(head.casefold()) if head else SUBCOMMANDS["help"]
    if sub is None:
        return _not_a_subcommand(head, stripped, command)
    rest = text[text.find(head) + len(head) :].strip() if head else ""
    if sub.own_parser:
        return Invocation(sub.name, raw_rest=rest)
    try:
        return _invocation(sub, tokenize(rest), rest)
    except CommandTextError as exc:
        return exc.error(usage_of(sub, command), sub.name)


def _invocation(sub: Subcommand, tokens: tuple[Token, ...], rest: str) -> Invocation:
    args = tuple(token for token in tokens if not isinstance(token, Flag))
    for flag in (token for token in tokens if isinstance(token, Flag)):
        if flag.name not in sub.flags:
            takes = f"it takes {mention(sorted(f'--{name}' for name in sub.flags))}" if sub.flags else "it takes none"
            raise CommandTextError(f"`{shown(flag.raw)}` is not a flag of `{sub.name}`: {takes}.", shown(flag.raw))
    share = any(isinstance(token, Flag) and token.name == "share" for token in tokens)
    if sub.name == "help":
        return Invocation("help", args, rest, share, topic=_help_topic(args))
    if sub.max_args is not None and len(args) > sub.max_args:
        extra = shown(args[sub.max_args].raw)
        takes = f"one argument; `{extra}` is one too many" if sub.max_args else f"nothing after it, not `{extra}`"
        raise CommandTextError(f"`{sub.name}` takes {takes}.", extra)
    return Invocation(sub.name, args, rest, share)


def _help_topic(args: tuple[Token, ...]) -> str | None:
    if not args:
        return None
    raw = shown(args[0].raw)
    if len(args) > 1 or not isinstance(args[0], Word):
        raise CommandTextError("`help` takes one subcommand's name, like `help search`.", raw)
    name = args[0].text.casefold()
    if name in SUBCOMMANDS:
        return name
    guesses = did_you_mean(name, SUBCOMMANDS)
    if len(guesses) == 1:
        return guesses[0]
    guess = (
        f"did you mean {mention(guesses)}?" if guesses else "subcommands: " + ", ".join(f"`{n}`" for n in SUBCOMMANDS)
    )
    raise CommandTextError(f"I can't help with `{raw}`: {guess}", raw, guesses)


def _not_a_subcommand(head: str, stripped: str, command: str) -> Invocation | ParseError:
    try:
        tokens = tokenize(stripped)
    except CommandTextError:
        tokens = ()
    first = tokens[0] if tokens else None
    if first is not None and paper_id(first.url if isinstance(first, Url) else first.raw):
        try:
            return _invocation(SUBCOMMANDS["show"], tokens, stripped)
        except CommandTextError as exc:
            return exc.error(usage_of(SUBCOMMANDS["show"], command), "show")
    raw = shown(head)
    guesses = did_you_mean(head, SUBCOMMANDS)
    if guesses:
        problem = f"I don't know the subcommand `{raw}`: did you mean {mention(guesses)}?"
    else:
        problem = (
            f"I don't know the subcommand `{raw}`. To look for papers, write `{command} search {shown(stripped)}`."
        )
    return ParseError(problem, overview(command), raw, guesses)
