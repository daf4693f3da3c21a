"""The benchmarks stay runnable: each script in bench/ imports (its imports follow the code as it moves)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_the_benchmark_script_imports(script: str) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)  # scripts run only under `if __name__ == "__main__"`
    finally:
        del sys.modules[spec.name]
    if '__name__ == "__main__"' in (BENCH / script).read_text():
        assert callable(getattr(module, "main", None)), f"bench/{script} has no main()"


def test_the_fault_ledger_finds_exactly_the_acknowledged_events_the_database_lacks(db_url: str) -> None:
    """bench/fault_bench.py's "lost" and "counted": every acknowledged event whose effect is missing, no more."""
    from sqlalchemy import create_engine

    from bench.fault_ledger import CHANNEL, TEAM, Ledger, State, paper_id, score, seed_posts
    from storage.db import make_sessions
    from storage.votes import ReactionKey, ReplyKey, add_reaction, record_reply, remove_reaction

    seed_posts(db_url)
    ledger = Ledger(seed=3)
    events = [ledger.next_event() for _ in range(60)]
    for sent in events[:50]:  # the last ten were never acknowledged
        ledger.acked(sent, at=1.0)
    events += [ledger.next_event() for _ in range(40)]  # now with removes of acknowledged adds
    for sent in events[60:]:
        ledger.acked(sent, at=2.0)
    kinds = {s.kind for s in events}
    assert kinds == {"add", "remove", "reply"}
    dropped = {id(s) for s in events if s.n % 7 == 0}  # the bot "lost" these
    engine = create_engine(db_url)
    with make_sessions(engine).begin() as session:
        for sent in events:
            if id(sent) in dropped or sent.n >= 95:
                continue
            if sent.kind == "reply":
                thread = sent.event["thread_ts"]
                post = int(thread.split(".")[1])
                key = ReplyKey(
                    team_id=TEAM, channel_id=CHANNEL, ts=sent.key[0], thread_ts=thread, arxiv_id=paper_id(post)
                )
                record_reply(session=session, key=key, user_id=sent.event["user"], text="x")
                continue
            post_ts, user, emoji = sent.key
            reaction = ReactionKey(team_id=TEAM, channel_id=CHANNEL, message_ts=post_ts, user_id=user, emoji=emoji)
            if sent.kind == "add":
                add_reaction(
                    session=session, key=reaction, arxiv_id=paper_id(int(post_ts.split(".")[1])), event_ts=None
                )
            else:
                remove_reaction(session=session, key=reaction, event_ts=None)
    result = score(ledger, State.read(engine), make_sessions(engine))
    engine.dispose()

    checked = [s for s in events if s.acked_at is not None and not (s.kind == "add" and s.key in ledger.removes_sent)]
    unapplied = [s for s in checked if id(s) in dropped or s.n >= 95]
    # A dropped remove of a reaction whose add was dropped too leaves the end state right: nothing is missing.
    expected = [s for s in unapplied if not (s.kind == "remove" and _add_of(events, s).n % 7 == 0)]
    assert result.acked == 90
    assert (result.checked, result.lost, result.double) == (len(checked), len(expected), 0)
    assert result.counted == len(checked) - len(expected)
    assert result.lost > 0


def _add_of(events: list[Any], remove: Any) -> Any:
    return next(s for s in events if s.kind == "add" and s.key == remove.key)
