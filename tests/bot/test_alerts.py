"""What `/papers subscribe` understands, and subscribe / unsubscribe / subscriptions on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts import (
    MAX_SUBSCRIPTIONS,
    SubscriptionError,
    alert_day,
    subscribe,
    subscription_filters,
    subscription_matches,
    subscription_texts,
    unsubscribe,
)
from bot.config import Settings
from bot.deps import Deps
from storage.records import PaperRecord


@pytest.mark.parametrize(
    ("text", "filters", "canonical"),
    [
        ("Diffusion", {"keywords": ["diffusion"]}, "diffusion"),
        (
            '"world models" topic:cs.lg',
            {"keywords": ["world models"], "topics": ["cs.LG"]},
            '"world models" topic:cs.LG',
        ),
        ('author:"Yann LeCun" author:"yann  LeCun"', {"authors": ["Yann LeCun"]}, 'author:"Yann LeCun"'),
    ],
)
def test_subscription_text_reads_into_the_digests_filters_and_a_canonical_form(
    text: str, filters: dict[str, list[str]], canonical: str
) -> None:
    expected = {"keywords": [], "authors": [], "topics": [], **filters}
    assert subscription_filters(text) == (expected, canonical)
    assert subscription_filters(canonical) == (expected, canonical)  # the shown form reads back the same


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("autor:Hinton", "did you mean `author:`?"),
        ("author:", "`author:` needs a value"),
        ("", "`subscribe` needs keywords"),
        ("since:2d diffusion", "`since:` does not apply here"),
        ("x" * 400, "at most 300 characters"),
    ],
)
def test_bad_subscription_text_gets_a_message_naming_the_problem(text: str, named: str) -> None:
    with pytest.raises(SubscriptionError) as caught:
        subscription_filters(text)
    assert named in str(caught.value)


def test_a_paper_matches_a_subscription_when_every_term_holds_each_as_fuzzily_as_in_a_digest() -> None:
    paper = PaperRecord(
        arxiv_id="2411.00001",
        title="Latent Diffusion for Video Generation",
        authors=["Geoffrey Hinton"],
        categories=["cs.CV"],
    )
    assert subscription_matches(paper, subscription_filters("video difusion")[0])  # both words, a typo forgiven
    # "learning" alone would match nearly every paper: words narrow a subscription, they never widen it.
    assert not subscription_matches(paper, subscription_filters("diffusion audio")[0])
    assert subscription_matches(paper, subscription_filters("author:Hintn topic:cs.CV")[0])
    assert not subscription_matches(paper, subscription_filters("author:Hinton topic:cs.CL")[0])
    assert not subscription_matches(paper, {"keywords": [], "authors": [], "topics": []})


def test_alerts_are_about_the_newest_complete_list_and_skip_weekend_lists() -> None:
    # 06:00 UTC on Wednesday is 01:00 in New York: Tuesday's list is complete.
    assert alert_day(datetime(2026, 11, 25, 6, tzinfo=UTC)) == date(2026, 11, 24)
    # Saturday and Monday mornings both give Friday's list (sent once; the second run finds it settled).
    assert alert_day(datetime(2026, 11, 28, 12, tzinfo=UTC)) == date(2026, 11, 27)
    assert alert_day(datetime(2026, 11, 30, 12, tzinfo=UTC)) == date(2026, 11, 27)


@pytest.fixture
def deps(sessions: sessionmaker[Session]) -> Deps:
    return Deps.of(Settings(_env_file=None), sessions)


def test_subscribe_twice_is_one_subscription_and_unsubscribe_by_number(deps: Deps) -> None:
    first = subscribe(deps, team_id="T1", user_id="U1", text="Diffusion")
    again = subscribe(deps, team_id="T1", user_id="U1", text="diffusion")
    second = subscribe(deps, team_id="T1", user_id="U1", text="author:Hinton")
    assert (first.number, first.created, again.number, again.created) == (1, True, 1, False)
    assert (second.number, second.count) == (2, 2)
    subscribe(deps, team_id="T1", user_id="U2", text="robots")
    assert subscription_texts(deps, team_id="T1", user_id="U1") == ["diffusion", "author:Hinton"]

    with pytest.raises(SubscriptionError, match="no subscription 5 \\(you have only 2\\)"):
        unsubscribe(deps, team_id="T1", user_id="U1", args="1 5")
    assert len(subscription_texts(deps, team_id="T1", user_id="U1")) == 2  # a bad number changes nothing
    with pytest.raises(SubscriptionError, match="not `two`"):
        unsubscribe(deps, team_id="T1", user_id="U1", args="two")

    done = unsubscribe(deps, team_id="T1", user_id="U1", args="#1")
    assert (done.removed, done.remaining) == (["diffusion"], 1)
    assert subscription_texts(deps, team_id="T1", user_id="U1") == ["author:Hinton"]
    done = unsubscribe(deps, team_id="T1", user_id="U1", args="ALL")
    assert (done.removed, done.remaining) == (["author:Hinton"], 0)
    assert subscription_texts(deps, team_id="T1", user_id="U2") == ["robots"]  # someone else's stay


def test_a_person_keeps_at_most_so_many_subscriptions(deps: Deps) -> None:
    for n in range(MAX_SUBSCRIPTIONS):
        subscribe(deps, team_id="T1", user_id="U1", text=f"topic{n}")
    with pytest.raises(SubscriptionError, match="unsubscribe <n>` one first"):
        subscribe(deps, team_id="T1", user_id="U1", text="one too many")
    assert subscribe(deps, team_id="T1", user_id="U1", text="topic0").created is False  # an existing one is fine
    assert len(subscription_texts(deps, team_id="T1", user_id="U1")) == MAX_SUBSCRIPTIONS
