"""Personal alerts: what `/papers subscribe` stores, and the one daily DM per person with the papers that match.

A subscription is the digest's filters for one person (bot.choose.matches: fuzzy keywords, authors and topics;
every kind a subscription sets must hold). A person's DM of a day lists the day's papers matching ANY of their
subscriptions, and goes out exactly once, across replicas and restarts (the claim in storage.subscriptions); a
person with nothing matching gets nothing. The sending itself is bot/alert_runner.py's `run_alerts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import process

from bot.alert_runner import AlertReport, alert_day, run_alerts
from bot.deps import Deps
from storage import subscriptions as store

__all__ = [
    "AlertReport",
    "SubscriptionError",
    "alert_day",
    "canonical_text",
    "run_alerts",
    "subscribe",
    "subscription_filters",
    "subscription_texts",
    "unsubscribe",
]

MAX_SUBSCRIPTIONS = 25
MAX_TEXT = 300
FIELDS = {
    "author": "authors",
    "authors": "authors",
    "by": "authors",
    "topic": "topics",
    "topics": "topics",
    "category": "topics",
    "keyword": "keywords",
    "keywords": "keywords",
}
PREFIX = {"authors": "author", "topics": "topic"}
# Slack clients turn typed quotes into typographic ones.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_TOKEN = re.compile(
    r'(?P<field>[A-Za-z]+):(?:"(?P<quoted_value>[^"]*)"?|(?P<value>[^\s,"]*))'
    r'|"(?P<phrase>[^"]*)"?|(?P<comma>,)|(?P<word>[^\s,"]+)'
)
_CATEGORY = re.compile(r"^([a-z-]+)\.([a-z-]+)$", re.IGNORECASE)

Filters = dict[str, list[str]]


class SubscriptionError(ValueError):
    """What a person typed cannot be a subscription (or removed); the message names the problem and the fix."""


def _words(value: str) -> str:
    return " ".join(value.split())


def _topic(value: str) -> str:
    """A topic as matched and shown: an arXiv category in arXiv's spelling (`cs.CL`), anything else lower-cased."""
    found = _CATEGORY.match(value)
    if found and len(found.group(2)) == 2:
        return f"{found.group(1).lower()}.{found.group(2).upper()}"
    return value.lower()


def _field(name: str) -> str:
    kind = FIELDS.get(name.lower())
    if kind is None:
        guess = process.extractOne(name.lower(), FIELDS.keys(), score_cutoff=60)
        hint = f" Did you mean `{guess[0]}:`?" if guess else ""
        raise SubscriptionError(
            f"I can't match on `{name}:`.{hint} Use plain words, `author:Name` or `topic:cs.CL`.",
        )
    return kind


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs in order: keywords, authors, topics, and "," (which ends a phrase of plain words)."""
    text = text.translate(_QUOTES).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    pairs: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        if match["field"]:
            kind = _field(match["field"])
            value = _words(match["quoted_value"] if match["quoted_value"] is not None else match["value"] or "")
            if not value:
                raise SubscriptionError(
                    f'`{match["field"]}:` needs a value, like `author:Hinton`, `author:"Yann LeCun"` or `topic:cs.CL`.'
                )
            pairs.append((kind, value))
        elif match["phrase"] is not None:
            pairs += [("keywords", _words(match["phrase"])), (",", "")]
        elif match["comma"]:
            pairs.append((",", ""))
        elif match["word"].startswith("<"):
            raise SubscriptionError(f"`{match['word']}` is a link or a mention: subscribe to words, authors or topics.")
        else:
            pairs.append(("word", match["word"]))
    return pairs


def subscription_filters(text: str) -> tuple[Filters, str]:
    """Read `/papers subscribe` text into the digest's filters and the subscription's canonical text.

    Plain words next to each other form one phrase (a comma or a term ends it); `"quoted words"` are a phrase;
    `author:Name`, `author:"First Last"` and `topic:cs.CL` add an author or a topic. For example
    `subscription_filters('Diffusion, world  models author:"Yann LeCun" topic:cs.cl')` is
    `({"keywords": ["diffusion", "world models"], "authors": ["Yann LeCun"], "topics": ["cs.CL"]},
    'diffusion, world models author:"Yann LeCun" topic:cs.CL')`. Raises SubscriptionError naming a bad term.
    """
    filters: Filters = {"keywords": [], "authors": [], "topics": []}
    phrase: list[str] = []
    for kind, value in [*_tokens(text), (",", "")]:
        if kind == "word":
            phrase.append(value)
            continue
        if phrase:
            filters["keywords"].append(" ".join(phrase))
            phrase = []
        if kind != ",":
            filters[kind].append(value)
    filters = {
        "keywords": _unique([k.lower() for k in filters["keywords"] if k.strip(" '")]),
        "authors": _unique(filters["authors"]),
        "topics": _unique([_topic(t) for t in filters["topics"]]),
    }
    if not any(filters.values()):
        raise SubscriptionError("Subscribe to what? Give words, an `author:` or a `topic:`.")
    canonical = canonical_text(filters)
    if len(canonical) > MAX_TEXT:
        raise SubscriptionError(f"That subscription is {len(canonical)} characters long; keep it under {MAX_TEXT}.")
    return filters, canonical


def _unique(values: list[str]) -> list[str]:
    """`values` without repeats, compared without case; the first spelling is kept."""
    kept: dict[str, str] = {}
    for value in values:
        kept.setdefault(value.lower(), value)
    return list(kept.values())


def canonical_text(filters: Filters) -> str:
    """How a subscription is shown and compared; reading it back gives the same filters:
    `canonical_text({"keywords": ["rl", "world models"], "authors": ["Yann LeCun"]})` is
    `'rl, world models author:"Yann LeCun"'`."""
    keywords = ", ".join(f'"{k}"' if "," in k else k for k in filters.get("keywords", []))
    terms = [
        f'{PREFIX[kind]}:"{v}"' if (" " in v or "," in v) else f"{PREFIX[kind]}:{v}"
        for kind in ("authors", "topics")
        for v in filters.get(kind, [])
    ]
    return " ".join(part for part in (keywords, *terms) if part)


# ---- what the /papers subcommands do --------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribed:
    """The outcome of `/papers subscribe`: the canonical text, its number, whether it is new, how many there are."""

    text: str
    number: int
    created: bool
    count: int


def subscribe(deps: Deps, *, team_id: str, user_id: str, text: str) -> Subscribed:
    """Store a subscription for the person (the same one twice is one); SubscriptionError for bad text or too many."""
    filters, canonical = subscription_filters(text)
    with deps.sessions.begin() as session:
        added = store.add_subscription(
            session=session, team_id=team_id, user_id=user_id, text=canonical, filters=filters
        )
        count = store.count_subscriptions(session=session, team_id=team_id, user_id=user_id)
        if added.created and count > MAX_SUBSCRIPTIONS:
            raise SubscriptionError(
                f"You have {MAX_SUBSCRIPTIONS} subscriptions, the most I keep: `/papers unsubscribe <n>` one first."
            )
    return Subscribed(canonical, added.number, added.created, count)


def subscription_texts(deps: Deps, *, team_id: str, user_id: str) -> list[str]:
    """The person's subscriptions as shown, in order (number n is item n - 1)."""
    with deps.sessions.begin() as session:
        return [s.text for s in store.list_subscriptions(session=session, team_id=team_id, user_id=user_id)]


def _numbers(args: str) -> list[int]:
    parts = [p.lstrip("#") for p in args.replace(",", " ").split()]
    if not parts:
        raise SubscriptionError("Which one? `/papers unsubscribe 2` stops subscription 2, `all` stops them all.")
    bad = next((p for p in parts if not (p.isascii() and p.isdigit() and int(p) > 0)), None)
    if bad is not None:
        raise SubscriptionError(f"`{bad}` is not a subscription number: `/papers subscriptions` lists yours, numbered.")
    return [int(p) for p in parts]


@dataclass(frozen=True)
class Unsubscribed:
    """The outcome of `/papers unsubscribe`: the texts removed and how many subscriptions are left."""

    removed: list[str]
    remaining: int


def unsubscribe(deps: Deps, *, team_id: str, user_id: str, args: str) -> Unsubscribed:
    """Remove subscriptions by number (`2`, `1 3`) or `all`; a number the person does not have changes nothing."""
    everything = args.strip().lower() == "all"
    numbers = [] if everything else _numbers(args)
    with deps.sessions.begin() as session:
        current = store.list_subscriptions(session=session, team_id=team_id, user_id=user_id)
        if everything:
            store.remove_all_subscriptions(session=session, team_id=team_id, user_id=user_id)
            return Unsubscribed([s.text for s in current], 0)
        missing = [n for n in numbers if n > len(current)]
        if missing:
            have = f"only {len(current)}" if current else "none"
            raise SubscriptionError(
                f"You have no subscription {missing[0]} (you have {have}): `/papers subscriptions` lists them."
            )
        removed = store.remove_subscriptions(session=session, team_id=team_id, user_id=user_id, numbers=numbers)
    return Unsubscribed(removed, len(current) - len(removed))
