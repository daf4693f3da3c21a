"""Personal alerts: what `/papers subscribe` stores, and the one daily DM per person with the papers that match.

A subscription is a few terms (keywords, `author:`, `topic:`) stored as the digest's filters; a paper matches it
when every term holds, each by the digest's fuzzy rules (bot.choose.matches). A person's DM of a day lists the
day's papers matching ANY of their subscriptions and goes out exactly once, across replicas and restarts (the
claim in storage.subscriptions); a person with nothing matching gets nothing. Sending and matching live in
bot/alert_runner.py (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.alert_runner import AlertReport, alert_day, run_alerts, subscription_matches
from bot.command_text import ParseError
from bot.deps import Deps
from bot.search.arguments import parse_subscription, parse_unsubscribe
from storage import subscriptions as store

__all__ = [
    "AlertReport",
    "SubscriptionError",
    "alert_day",
    "run_alerts",
    "subscribe",
    "subscription_filters",
    "subscription_matches",
    "subscription_texts",
    "unsubscribe",
]

MAX_SUBSCRIPTIONS = 25

Filters = dict[str, list[str]]


class SubscriptionError(ValueError):
    """What a person typed cannot be a subscription (or removed); the message names the problem and the fix."""


def subscription_filters(text: str) -> tuple[Filters, str]:
    """Read `/papers subscribe` text (bot.search.arguments.parse_subscription, the one parser of `/papers` text)
    into the digest's filters and the subscription's canonical text; SubscriptionError names a bad term.

    `subscription_filters('Diffusion author:"Yann LeCun" topic:cs.cl')` is
    `({"keywords": ["diffusion"], "authors": ["Yann LeCun"], "topics": ["cs.CL"]},
    'diffusion author:"Yann LeCun" topic:cs.CL')`.
    """
    parsed = parse_subscription(text)
    if isinstance(parsed, ParseError):
        raise SubscriptionError(parsed.problem)
    filters = {"keywords": list(parsed.keywords), "authors": list(parsed.authors), "topics": list(parsed.topics)}
    return filters, parsed.text


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


@dataclass(frozen=True)
class Unsubscribed:
    """The outcome of `/papers unsubscribe`: the texts removed and how many subscriptions are left."""

    removed: list[str]
    remaining: int


def unsubscribe(deps: Deps, *, team_id: str, user_id: str, args: str) -> Unsubscribed:
    """Remove subscriptions by number (`2`, `1 3`) or `all`; a number the person does not have changes nothing."""
    parsed = parse_unsubscribe(args)
    if isinstance(parsed, ParseError):
        raise SubscriptionError(parsed.problem)
    everything, numbers = parsed.everything, parsed.numbers
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
