"""`/papers search` through the bot's real signed HTTP endpoint, for bench/search_bench.py.

Starts the real bot (tests/running.py's `running_bot`: the Bolt app behind the HTTP server on 127.0.0.1:0) on
the benchmark's database, with the loopback fake Slack as SLACK_API_URL and as every command's `response_url`.
Loads the bot's search index first (and times that), waits for it to settle (its snapshot saved after a build,
its first poll applied: `SearchService.settled`), then sends the queries one after another as signed slash
commands, each with its own response_url key, and times two things per command: the ack's HTTP round trip, and
the answer: from sending the request to the answer arriving (what the person who typed it waits for), which is
the ack itself when the bot answered in it (bot.lanes.answer_in_ack), else the reply at the response_url.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.search_corpus import Query
from tests.fakes.slack import FakeSlack, SlackSender
from tests.running import bot_settings, running_bot

LOAD_LIMIT_S = 900.0  # the index of 1,000,000 papers loads in about 70 s on the shared 2-core machine
REPLY_LIMIT_S = 10.0  # one reply later than this counts as lost (Slack's response_url stays valid 30 minutes)


class Arrivals(list[dict[str, Any]]):
    """FakeSlack's `responses`, noting when each reply arrived (its handler thread appends) and waking the sender."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[str, float] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition()

    def append(self, response: dict[str, Any]) -> None:
        """Record one reply POSTed to a response_url, with the time it arrived."""
        now = time.perf_counter()
        super().append(response)
        with self._arrived:
            self.at[response["key"]] = now
            self.by_key[response["key"]] = response
            self._arrived.notify_all()

    def wait(self, key: str, timeout: float) -> float | None:
        """When the reply with `key` arrived (perf_counter), or None if it did not within `timeout` seconds."""
        with self._arrived:
            self._arrived.wait_for(lambda: key in self.at, timeout)
            return self.at.get(key)


@dataclass
class HttpFigures:
    """What one run of commands measured (durations in seconds)."""

    load_s: float
    replies: list[float]
    acks: list[float]
    found: int
    answered_in_ack: int
    lost: int
    sent: int
    stopped_early: bool
    settle_s: float = 0.0  # from loaded to settled (snapshot saved, first poll applied)


def strings(value: Any) -> Iterable[str]:
    """Every string in a JSON value (a reply's blocks carry the papers' arXiv ids as button values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def measure(
    database_url: str, asked: Sequence[Query], found_by: Any, *, limit_s: float, load_limit_s: float = LOAD_LIMIT_S
) -> HttpFigures:
    """Send every query (at most `limit_s` seconds of them) as `/papers search <query>`; `found_by(query, ids)`
    says whether a reply showed the wanted paper."""
    arrivals = Arrivals()
    slack = FakeSlack(responses=arrivals).start()
    try:
        with running_bot(bot_settings(database_url, slack)) as bot:
            started = time.perf_counter()
            bot.deps.search  # noqa: B018 - the first touch starts the index's background load
            while not bot.deps.search.ready:
                if time.perf_counter() - started > load_limit_s:
                    raise TimeoutError(f"the bot's search index did not load within {load_limit_s:.0f} s")
                time.sleep(0.05)
            load_s = time.perf_counter() - started
            # The figures are of a bot at work, not of its start: wait until the index's snapshot is saved (after
            # a build) and its first poll applied (it re-reads the papers stamped just before the load).
            while not bot.deps.search.settled:
                if time.perf_counter() - started > load_limit_s:
                    raise TimeoutError(f"the bot's search index did not settle within {load_limit_s:.0f} s")
                time.sleep(0.05)
            settle_s = time.perf_counter() - started - load_s
            sender = SlackSender(bot.url + "/slack/events")
            try:
                _send(sender, slack, "warm-up", "warm up")  # Bolt's and the client's first-request costs
                figures = _run(sender, slack, arrivals, asked, found_by, limit_s)
            finally:
                sender.close()
            figures.load_s, figures.settle_s = load_s, settle_s
            return figures
    finally:
        slack.stop()


def _send(sender: SlackSender, slack: FakeSlack, key: str, text: str) -> Any:
    response = sender.command(f"search {text}", response_url=slack.response_url(key))
    if response.status_code != 200:
        raise RuntimeError(f"the bot answered {response.status_code} to `/papers search {text}`: {response.text}")
    return response


def _run(
    sender: SlackSender, slack: FakeSlack, arrivals: Arrivals, asked: Sequence[Query], found_by: Any, limit_s: float
) -> HttpFigures:
    figures = HttpFigures(0.0, [], [], 0, 0, 0, 0, False)
    deadline = time.perf_counter() + limit_s
    for n, query in enumerate(asked):
        if time.perf_counter() > deadline:
            figures.stopped_early = True
            break
        key = f"q{n}"
        began = time.perf_counter()
        response = _send(sender, slack, key, query.text)
        figures.acks.append(time.perf_counter() - began)
        figures.sent += 1
        if response.content:  # answered in the ack itself (bot.lanes.answer_in_ack): the answer is the ack
            figures.answered_in_ack += 1
            figures.replies.append(figures.acks[-1])
            figures.found += found_by(query, list(strings(response.json())))
            continue
        arrived = arrivals.wait(key, REPLY_LIMIT_S)
        if arrived is None:
            figures.lost += 1
            continue
        figures.replies.append(arrived - began)
        figures.found += found_by(query, list(strings(arrivals.by_key[key])))
    return figures
