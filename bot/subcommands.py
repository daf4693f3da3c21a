"""What `/papers` offers, in words: every subcommand (summary, usage, examples) and every search term.

The help texts and the parsers' usage lines come from here, so they cannot drift apart. Texts are plain text with
mrkdwn backticks and literal `<` `>`: escape them (bot/blocks.escape) before they go into a Slack message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subcommand:
    """One `/papers` subcommand. `own_parser`: its text goes as is to its own parser (digest, config, export);
    `max_args`: how many arguments it takes at most (None: any); `terms`: the search terms it takes."""

    name: str
    summary: str
    usage: str
    examples: tuple[tuple[str, str], ...]
    flags: frozenset[str] = frozenset()
    own_parser: bool = False
    max_args: int | None = None
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Term:
    """One search term: its name, the values it takes, and what it keeps."""

    name: str
    values: str
    meaning: str


SHARE = frozenset({"share"})
ALL = (
    "author",
    "since",
    "until",
    "votes",
    "upvotes",
    "replies",
    "topic",
    "keyword",
    "channel",
    "discussed",
    "saved",
    "sort",
)
ALERT = ("author", "topic", "keyword")
_LIST = (
    Subcommand(
        "help",
        "every subcommand, or one subcommand's usage and examples",
        "help [subcommand]",
        (("help", "this list"), ("help search", "how to search, with examples")),
        max_args=1,
    ),
    Subcommand(
        "search",
        "find papers by words, arXiv id or link, narrowed by terms",
        "search <text> [term …] [--share]",
        (
            ("search diffusion transformers", "papers about both words"),
            ('search "world models" since:3m votes:>=2', "a phrase, from the last 3 months, 2+ votes"),
            ("search author:Hinton sort:votes", "an author's papers, most voted first"),
            ("search 2410.13732", "one paper by its arXiv id (or any arXiv, HF or alphaXiv link)"),
        ),
        flags=SHARE,
        terms=ALL,
    ),
    Subcommand(
        "show",
        "one paper with the team's votes, replies and threads",
        "show <arXiv id or link> [--share]",
        (
            ("show 2410.13732", "by arXiv id (`arXiv:2410.13732v2`, `hep-th/9901001` too)"),
            ("show https://huggingface.co/papers/2410.13732", "by arXiv, Hugging Face or alphaXiv link"),
            ("show 2410.13732 --share", "post it to the channel instead of only to you"),
        ),
        flags=SHARE,
        max_args=1,
    ),
    Subcommand(
        "top",
        "the team's most voted papers of a period (default: this week, 10)",
        "top [today|week|month|year|all] [N] [term …] [--share]",
        (
            ("top", "this week's 10 most voted papers"),
            ("top month 20", "this month's 20 (N from 1 to 50, in either order)"),
            ("top year topic:cs.CL", "this year's, only computational linguistics"),
        ),
        flags=SHARE,
        terms=ALL,
    ),
    Subcommand(
        "filter",
        "papers that match terms, without search words",
        "filter <term …> [--share]",
        (
            ("filter discussed:yes since:2w", "papers discussed in the last two weeks"),
            ("filter channel:#ml-papers votes:>=3", "posted in #ml-papers, 3+ votes"),
            ("filter saved:me sort:date", "your saved papers, newest first"),
        ),
        flags=SHARE,
        terms=ALL,
    ),
    Subcommand(
        "subscribe",
        "a daily DM when new papers match keywords, an author or a topic",
        "subscribe <keywords | author:… | topic:…>",
        (
            ("subscribe diffusion", "papers about diffusion"),
            ('subscribe "world models" topic:cs.LG', "a phrase, in cs.LG"),
            ('subscribe author:"Yann LeCun"', "an author's new papers"),
        ),
        terms=ALERT,
    ),
    Subcommand(
        "unsubscribe",
        "stop alerts: the numbers `subscriptions` shows, or all",
        "unsubscribe <n …|all>",
        (("unsubscribe 2", "stop alert 2"), ("unsubscribe all", "stop every alert")),
    ),
    Subcommand(
        "subscriptions", "your alerts, numbered", "subscriptions", (("subscriptions", "list them"),), max_args=0
    ),
    Subcommand(
        "digest",
        "this channel's digest settings and last run; `now` posts it",
        "digest [now]",
        (("digest", "settings and last run"), ("digest now", "post this channel's digest now")),
        own_parser=True,
    ),
    Subcommand(
        "config",
        "this channel's digest settings, or change one",
        "config [<setting> <value>]",
        (
            ("config time 09:30", "post the digest at 09:30"),
            ("config topics cs.CL, cs.LG", "only these topics"),
            ("config recap friday 17:00", "a weekly recap here, Fridays at 17:00"),
        ),
        own_parser=True,
    ),
    Subcommand(
        "export",
        "a file of the papers posted here with the team's votes, reactions and replies",
        "export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]",
        (("export csv", "this channel's papers as CSV"), ("export bibtex all", "every channel's, as BibTeX")),
        own_parser=True,
    ),
)
SUBCOMMANDS: dict[str, Subcommand] = {sub.name: sub for sub in _LIST}

TERMS: tuple[Term, ...] = (
    Term("author", 'author:Hinton, author:"Geoffrey Hinton"', "an author's name, or part of it"),
    Term("since", "since:2025-11-03, since:2025-11, since:2025, since:7d, 2w, 3m, 1y", "added on or after"),
    Term("until", "until:2025-11-30 (same forms as since:)", "added on or before"),
    Term("votes", "votes:>=3, votes:>3, votes:=3, votes:<=3 (votes:3 is votes:>=3)", "the team's votes"),
    Term("upvotes", "upvotes:>=50 (same forms as votes:)", "Hugging Face upvotes"),
    Term("replies", "replies:>=2 (same forms as votes:)", "thread replies"),
    Term("topic", "topic:cs.CL, topic:agents", "an arXiv category, or a Hugging Face keyword"),
    Term("keyword", 'keyword:RLHF, keyword:"chain of thought"', "these exact words in the title or abstract"),
    Term("channel", "channel:#ml-papers", "posted in that channel"),
    Term("discussed", "discussed:yes, discussed:no", "with or without thread replies"),
    Term("saved", "saved:me", "papers you saved"),
    Term("sort", "sort:votes, replies, upvotes, date, relevance", "the order (default: relevance, or date)"),
)
TERM_NAMES: tuple[str, ...] = tuple(term.name for term in TERMS)


def terms_line(names: tuple[str, ...] = TERM_NAMES) -> str:
    """The valid terms on one line: `terms_line(("author", "topic")) == "Terms: `author:` `topic:`."`."""
    return "Terms: " + " ".join(f"`{name}:`" for name in names) + "."


def usage_of(sub: Subcommand, command: str = "/papers") -> str:
    """A subcommand's usage and first example, on one line (with the terms, for subcommands that take them).

    >>> usage_of(SUBCOMMANDS["show"])
    'Usage: `/papers show <arXiv id or link> [--share]`, e.g. `/papers show 2410.13732`'
    """
    example = f", e.g. `{command} {sub.examples[0][0]}`" if sub.examples else ""
    terms = f"\n{terms_line(sub.terms)}" if sub.terms else ""
    return f"Usage: `{command} {sub.usage}`{example}{terms}"


def overview(command: str = "/papers") -> str:
    """Every subcommand with its usage and summary, one per line."""
    return "\n".join(f"• `{command} {sub.usage}` — {sub.summary}" for sub in _LIST)


def help_text(topic: str | None = None, command: str = "/papers") -> str:
    """The answer to `/papers help` (every subcommand) or `/papers help <topic>` (its usage and examples)."""
    if topic is None or topic not in SUBCOMMANDS:
        return f"{overview(command)}\n`{command} help <subcommand>` shows its examples."
    sub = SUBCOMMANDS[topic]
    lines = [f"`{command} {sub.usage}` — {sub.summary}"]
    lines += [f"• `{command} {example}` — {what}" for example, what in sub.examples]
    if sub.terms:
        lines.append("Terms (all must match; repeat `author:`, `topic:` or `keyword:` to require several):")
        lines += [f"• `{term.name}:` {term.meaning}: {term.values}" for term in TERMS if term.name in sub.terms]
    if sub.flags:
        lines.append("`--share` posts the answer to the channel instead of only to you.")
    return "\n".join(lines)
