"""bot.lanes.answer_in_ack: an answer ready in time rides in the ack; a late one goes to the response URL; never
both, never neither, whichever way the two threads race; a failure becomes a plain private sentence."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.lanes import DB_UNAVAILABLE, FAILED, answer_in_ack


class Deps:
    """The one thing answer_in_ack takes from the bot's dependencies: the answer pool."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.answer_pool = pool


class Place:
    """Records what was acked and what was sent to the response URL (with the moment each arrived)."""

    def __init__(self) -> None:
        self.acked: list[dict[str, Any]] = []
        self.responded: list[dict[str, Any]] = []
        self.responded_once = threading.Event()

    def ack(self, body: dict[str, Any] | None = None) -> None:
        self.acked.append(body or {})

    def respond(self, **payload: Any) -> None:
        self.responded.append(payload)
        self.responded_once.set()

    def answers(self) -> list[dict[str, Any]]:
        return [a for a in self.acked if a] + self.responded


@pytest.fixture
def deps() -> Iterator[Any]:
    pool = ThreadPoolExecutor(2)
    yield Deps(pool)
    pool.shutdown(wait=True)


def test_a_quick_answer_is_the_ack_itself(deps: Any) -> None:
    place = Place()
    answer_in_ack(deps, place.ack, place.respond, lambda: {"text": "found", "metadata": {"x": 1}}, what="t", wait=5)
    assert place.acked == [{"text": "found", "response_type": "ephemeral"}]  # metadata is not for an ack body
    deps.answer_pool.shutdown(wait=True)
    assert place.responded == []


def test_a_slow_answer_acks_empty_then_goes_to_the_response_url(deps: Any) -> None:
    place, release = Place(), threading.Event()

    def slow() -> dict[str, Any]:
        release.wait(10)
        return {"text": "late"}

    answer_in_ack(deps, place.ack, place.respond, slow, what="t", wait=0.01)
    assert place.acked == [{}] and place.responded == []  # acked bare, the answer still on its way
    release.set()
    assert place.responded_once.wait(10)
    assert place.responded == [{"text": "late", "response_type": "ephemeral", "replace_original": False}]


def numbered(n: int) -> dict[str, Any]:
    return {"text": f"answer {n}"}


@pytest.mark.parametrize("wait", [0.0, 0.0005, 0.001, 0.002, 0.005])
def test_racing_the_deadline_the_answer_is_given_exactly_once(deps: Any, wait: float) -> None:
    # Work that takes about as long as the wait: sometimes it wins, sometimes the deadline does.
    places = []
    for n in range(100):
        place = Place()
        answer_in_ack(deps, place.ack, place.respond, functools.partial(numbered, n), what="t", wait=wait)
        places.append(place)
    deps.answer_pool.shutdown(wait=True)  # every answer sent that ever will be
    for n, place in enumerate(places):
        assert len(place.acked) == 1
        assert [a["text"] for a in place.answers()] == [f"answer {n}"]


def test_a_database_that_does_not_answer_and_a_failure_are_said_plainly(deps: Any) -> None:
    def down() -> dict[str, Any]:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    def broken() -> dict[str, Any]:
        raise ValueError("a bug")

    for work, said in ((down, DB_UNAVAILABLE), (broken, FAILED)):
        place = Place()
        answer_in_ack(deps, place.ack, place.respond, work, what="t", wait=5)
        assert place.acked == [{"text": said, "response_type": "ephemeral"}]
