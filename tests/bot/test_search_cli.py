"""`paperbot search`: the lookup engine in the terminal, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import cli
from bot.sources.sample import sample_records
from storage.models import Post, Reaction, Workspace
from storage.papers import upsert_papers

Run = Callable[..., Result]
REPLICA = "2111.12997"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, sessions: sessionmaker[Session]) -> Run:
    monkeypatch.chdir(tmp_path)  # no stray .env
    with sessions.begin() as session:
        upsert_papers(session=session, records=sample_records(date(2026, 11, 24)))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, ["search", *args], env={"DATABASE_URL": db_url})


def test_a_typo_d_query_finds_the_paper(run: Run) -> None:
    result = run("replica symetry braking")
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[0] == f"1. Replica symmetry breaking in dense neural networks (2021) arXiv {REPLICA}"
    )


def test_json_lists_the_papers_with_the_teams_public_activity(run: Run, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(Workspace(team_id="T1", bot_user_id="UBOT"))
        session.add(Post(team_id="T1", channel_id="C1", ts="1.0", arxiv_id=REPLICA, kind="digest"))
        session.add(
            Reaction(team_id="T1", channel_id="C1", message_ts="1.0", user_id="U1", emoji="+1", arxiv_id=REPLICA)
        )
    result = run("replica symmetry dense", "--json", "--limit", "1")
    assert result.exit_code == 0, result.output
    (paper,) = json.loads(result.output)
    assert paper["arxiv_id"] == REPLICA and paper["year"] == 2021
    assert paper["votes"] == 0  # C1's privacy is unknown to the terminal, so it counts as private


def test_filter_terms_ride_along_and_a_bad_term_is_one_line(run: Run) -> None:
    result = run("equivariant", "since:2025-01-01", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "Flow Equivariant Recurrent Neural Networks (2025)" in result.output
    assert "(2023)" not in result.output and "(2024)" not in result.output
    bad = run("x", "autor:y")
    assert bad.exit_code == 1
    assert "did you mean `author:`?" in bad.output


def test_no_hit_says_so_and_names_the_nearest_titles(run: Run) -> None:
    result = run("zzqqxx", "author:nobody")
    assert result.exit_code == 0
    assert result.output == "No paper matches 'zzqqxx author:nobody'. Nearest titles: none\n"
    near = run("replica", "symmetry", "dense", "author:nobody")
    assert near.exit_code == 0, near.output
    head = "No paper matches 'replica symmetry dense author:nobody'. Nearest titles: "
    assert near.output.startswith(head + "Replica symmetry breaking in dense neural networks; "), near.output
    assert near.output.count("; ") == 2 and len(near.output.splitlines()) == 1  # three titles, one line
