"""The metrics of the paper sources, counted by the transport both clients use (each attempt, by result), and
prometheus-client's multiprocess mode adding several processes' counters up at one `/metrics`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import exposition
from bot.sources.arxiv import INTERVAL, ArxivClient, Turns
from bot.sources.hf import HFClient, SourceError
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.clock import FakeClock
from tests.fakes.hf import FakeHF

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def this_process() -> Samples:
    return samples(exposition(None)[0].decode())


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_hf_and_arxiv_requests_and_their_errors_are_counted(fake_hf: FakeHF, fake_arxiv: FakeArxiv) -> None:
    before = this_process()
    fake_hf.fail_next("daily_papers", 500)
    with HFClient(fake_hf.url, sleep=lambda _: None, timeout=2.0) as hf:
        hf.daily(date(2025, 11, 24))  # a 500, then the answer
    closed = HFClient("http://127.0.0.1:9/api/", max_retries=0, sleep=lambda _: None)  # nothing listens there
    with closed, pytest.raises(SourceError):
        closed.daily(date(2025, 11, 24))
    fake_arxiv.fail_next(503)
    clock = FakeClock()
    arxiv = ArxivClient(fake_arxiv.url, turns=Turns(INTERVAL, clock=clock, sleep=clock.sleep), sleep=lambda _: None)
    with arxiv:
        arxiv.by_ids(["2410.13732"])  # a 503, then the answer
    after = this_process()
    assert moved(before, after, "paperbot_source_requests_total", source="hf", result="5xx") == 1
    assert moved(before, after, "paperbot_source_requests_total", source="hf", result="2xx") >= 1
    assert moved(before, after, "paperbot_source_requests_total", source="hf", result="connection_error") == 1
    assert moved(before, after, "paperbot_source_errors_total", source="hf") == 2
    assert moved(before, after, "paperbot_source_requests_total", source="arxiv", result="5xx") == 1
    assert moved(before, after, "paperbot_source_requests_total", source="arxiv", result="2xx") == 1
    assert moved(before, after, "paperbot_source_errors_total", source="arxiv") == 1


def test_multiprocess_mode_adds_the_processes_up(tmp_path: Path) -> None:
    """Two worker processes count into PROMETHEUS_MULTIPROC_DIR; one scrape shows their sum."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    worker = textwrap.dedent(
        """
        from bot import metrics
        metrics.EVENTS_RECEIVED.labels("reaction_added").inc(2)
        metrics.COMMAND_SECONDS.labels("help").observe(0.2)
        """
    )
    scrape = (
        "import sys; from bot.metrics import exposition; print(exposition(None, multiproc_dir=sys.argv[1])[0].decode())"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    shown = subprocess.run(
        [sys.executable, "-c", scrape, str(folder)], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    merged = samples(shown)
    assert merged[("paperbot_events_received_total", frozenset({("type", "reaction_added")}))] == 4
    assert merged[("paperbot_command_seconds_count", frozenset({("subcommand", "help")}))] == 2
