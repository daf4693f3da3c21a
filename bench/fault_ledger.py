"""What bench/fault_bench.py sent and what Slack got a 200 for, and how that compares with what the database holds.

Every event has a known effect on the final state, so "counted" is exact: each `reaction_added` is a new
(person, emoji, post), each `reaction_removed` takes back one reaction whose add was acknowledged earlier, and each
thread reply has a ts of its own. An event acknowledged (HTTP 200) must show in the database at the end:

- an acknowledged add whose reaction no later event removes: the reaction row is there;
- an acknowledged remove: the reaction row is gone;
- an acknowledged reply: the reply row is there (not deleted).

An add whose reaction is removed again leaves nothing to check (the end state is the remove's, or, when the
remove was never acknowledged, either), and events never acknowledged (Slack gave up on them after its retries)
may or may not show. Double counting is what people would see counted more than once: rows for the same key
more than once, or a paper's activity (the counts `/papers top` and `show` print) above the distinct rows stored
for it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

from storage.db import make_engine, make_sessions
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from storage.votes import paper_activity

CHANNEL = "C0001"
POSTS = 20
EMOJI = ("+1", "fire", "heart")
TEAM = "T0001"


def paper_id(n: int) -> str:
    """The arXiv id of the benchmark's n-th paper."""
    return f"2501.{n:05d}"


def post_ts(n: int) -> str:
    """The Slack ts of the digest message that posted the n-th paper."""
    return f"1764150000.{n:06d}"


def stamp(n: int, base: int) -> str:
    """The n-th unique Slack ts after `base` (one event's event_ts, one reply's ts): `stamp(3, 17) == "17.000003"`."""
    return f"{base + n // 1_000_000}.{n % 1_000_000:06d}"


def seed_posts(url: str) -> None:
    """The 20 paper posts every event is about."""
    engine = make_engine(url)
    with make_sessions(engine).begin() as session:
        upsert_papers(
            session=session, records=[PaperRecord(arxiv_id=paper_id(n), title=f"Paper {n}") for n in range(POSTS)]
        )
        for n in range(POSTS):
            record_post(
                session=session, team_id=TEAM, channel_id=CHANNEL, ts=post_ts(n), arxiv_id=paper_id(n), kind="digest"
            )
    engine.dispose()


@dataclass
class Sent:
    """One event: what it changes (`kind`, `key`), its payload, and how its deliveries went."""

    n: int
    kind: str  # "add" | "remove" | "reply"
    key: tuple[str, ...]  # (post ts, user, emoji) for reactions; (reply ts,) for replies
    event: dict[str, Any]
    attempts: int = 0
    acked_at: float | None = None  # time.monotonic() of its first 200

    @property
    def event_id(self) -> str:
        return f"EvFault{self.n:08d}"


@dataclass
class State:
    """What the database holds for the benchmark's channel."""

    reactions: Counter[tuple[str, ...]] = field(default_factory=Counter)
    replies: Counter[tuple[str, ...]] = field(default_factory=Counter)

    @classmethod
    def read(cls, engine: Engine) -> State:
        """The reaction and (not deleted) reply rows of the benchmark's channel, counted by key."""
        state = cls()
        scope = {"team": TEAM, "channel": CHANNEL}
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT message_ts, user_id, emoji FROM reactions WHERE team_id = :team AND channel_id = :channel"
                ),
                scope,
            )
            state.reactions.update(tuple(row) for row in rows)
            rows = conn.execute(
                text("SELECT ts FROM replies WHERE team_id = :team AND channel_id = :channel AND NOT deleted"), scope
            )
            state.replies.update(tuple(row) for row in rows)
        return state

    def holds(self, sent: Sent, removes_sent: set[tuple[str, ...]]) -> bool:
        """Whether `sent`'s effect shows (an add also counts as shown once a remove of its key was sent)."""
        if sent.kind == "reply":
            return sent.key in self.replies
        if sent.kind == "remove":
            return sent.key not in self.reactions
        return sent.key in self.reactions or sent.key in removes_sent


class Ledger:
    """Makes the events (a seeded mix of adds, removes and replies) and records their acknowledgements."""

    def __init__(self, seed: int = 10) -> None:
        self.sent: list[Sent] = []
        self.removes_sent: set[tuple[str, ...]] = set()
        self._removable: list[tuple[str, ...]] = []  # acknowledged adds not yet removed
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def next_event(self) -> Sent:
        """A new event: 40% reaction_added, 20% reaction_removed (of an acknowledged add), 40% thread reply."""
        with self._lock:
            n, roll = len(self.sent), self._random.random()
            user, when = f"U{n:07d}", stamp(n, 1764200000)
            if roll < 0.2 and self._removable:
                key = self._removable.pop(self._random.randrange(len(self._removable)))
                sent = Sent(n, "remove", key, _reaction("reaction_removed", key, when))
                self.removes_sent.add(key)
            elif roll < 0.6:
                key = (post_ts(n % POSTS), user, EMOJI[n % len(EMOJI)])
                sent = Sent(n, "add", key, _reaction("reaction_added", key, when))
            else:
                ts = stamp(n, 1764300000)
                sent = Sent(n, "reply", (ts,), _reply(ts, post_ts(n % POSTS), user))
            self.sent.append(sent)
            return sent

    def acked(self, sent: Sent, at: float) -> None:
        """Slack got its 200 for `sent` (the first time counts)."""
        with self._lock:
            if sent.acked_at is None:
                sent.acked_at = at
                if sent.kind == "add":
                    self._removable.append(sent.key)

    def missing(self, state: State, acked_by: float, acked_after: float = 0.0) -> int:
        """Events acknowledged after `acked_after` and by `acked_by` (monotonic) whose effect does not show in
        `state` (yet)."""
        with self._lock:
            removes = set(self.removes_sent)
            events = [s for s in self.sent if s.acked_at is not None and acked_after < s.acked_at <= acked_by]
        return sum(not state.holds(s, removes) for s in events)


@dataclass
class Score:
    """The end of a run: acknowledged events against the database."""

    sent: int
    acked: int
    checked: int  # acknowledged events whose effect the end state shows (not an add that was removed again)
    counted: int
    lost: int
    double: int
    lost_by_kind: Counter[str]
    lost_ids: list[str]  # their Slack event ids


def score(ledger: Ledger, state: State, sessions: sessionmaker[Any]) -> Score:
    """Compare the final database with what was acknowledged (see the module docstring for the rules)."""
    checked = [
        s for s in ledger.sent if s.acked_at is not None and not (s.kind == "add" and s.key in ledger.removes_sent)
    ]
    missing = [s for s in checked if not state.holds(s, set())]
    lost = Counter(s.kind for s in missing)
    duplicates = sum(n - 1 for n in (*state.reactions.values(), *state.replies.values()) if n > 1)
    acked = sum(s.acked_at is not None for s in ledger.sent)
    return Score(
        sent=len(ledger.sent),
        acked=acked,
        checked=len(checked),
        counted=len(checked) - sum(lost.values()),
        lost=sum(lost.values()),
        double=duplicates + overcounted(state, sessions),
        lost_by_kind=lost,
        lost_ids=[s.event_id for s in missing],
    )


def overcounted(state: State, sessions: sessionmaker[Any]) -> int:
    """How far the papers' shown activity (reactions per emoji, replies) exceeds the distinct rows stored."""
    per_post_reactions = Counter(key[0] for key in state.reactions)
    per_post_replies = _replies_per_post(sessions)
    over = 0
    with sessions() as session:
        for n in range(POSTS):
            shown = paper_activity(session=session, team_id=TEAM, arxiv_id=paper_id(n), vote_emoji=EMOJI)
            over += max(0, sum(shown.reactions.values()) - per_post_reactions[post_ts(n)])
            over += max(0, shown.replies - per_post_replies[post_ts(n)])
    return over


def _replies_per_post(sessions: sessionmaker[Any]) -> Counter[str]:
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT thread_ts, COUNT(DISTINCT ts) FROM replies"
                " WHERE team_id = :team AND channel_id = :channel AND NOT deleted GROUP BY thread_ts"
            ),
            {"team": TEAM, "channel": CHANNEL},
        )
        return Counter({str(thread): int(count) for thread, count in rows})


def _reaction(kind: str, key: tuple[str, ...], when: str) -> dict[str, Any]:
    post, user, emoji = key
    item = {"type": "message", "channel": CHANNEL, "ts": post}
    return {"type": kind, "user": user, "reaction": emoji, "event_ts": when, "item": item, "item_user": "UBOT0001"}


def _reply(ts: str, thread: str, user: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": CHANNEL,
        "user": user,
        "text": f"a reply by {user}",
        "ts": ts,
        "thread_ts": thread,
        "event_ts": ts,
        "channel_type": "channel",
    }


def percentile(values: Iterable[float], q: float) -> float:
    """The q-quantile (0..1) of `values` by nearest rank; 0 for none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
