"""`paperbot recap`: the dry run's terminal preview and JSON, bad weeks refused in one line, nothing posted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import validate
from bot.cli import cli
from storage.channels import update_channel
from tests.bot.test_recap import HERE, seed
from tests.fakes.slack import TEAM_ID


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {"DATABASE_URL": db_url, "HF_API_URL": "http://127.0.0.1:9/api/", "PAPERBOT_LOG_LEVEL": "WARNING"}


def test_the_dry_run_previews_the_recap_of_a_week(env: dict[str, str], sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    result = CliRunner().invoke(cli, ["recap", "--channel", HERE, "--week", "2026-W48", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    screen = " ".join(result.output.replace("│", " ").split())
    assert "Weekly recap · 2026-W48 (23–29 Nov)" in screen
    assert "3 papers posted in #CRECAP got 4 votes and 6 replies this week." in screen
    assert screen.index("Most voted 1. Paper A · 3 votes · 1 reply · ▲ 10 on HF") < screen.index("Most discussed")
    assert "The recap of 2026-W48 for #CRECAP: 3 paper(s) with activity. Nothing was posted." in screen


def test_the_dry_run_finds_the_channels_with_a_recap_and_prints_json(
    env: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    seed(sessions)
    none = CliRunner().invoke(cli, ["recap", "--dry-run", "--week", "2026-W48"], env=env)
    assert none.exit_code == 1
    assert "no channel has a weekly recap: pass --channel C0123456789" in none.output
    with sessions.begin() as s:
        update_channel(session=s, team_id=TEAM_ID, channel_id=HERE, recap_day=4, recap_time="17:00")
    result = CliRunner().invoke(cli, ["recap", "--dry-run", "--json", "--week", "2026-W48"], env=env)
    assert result.exit_code == 0, result.output
    (payload,) = json.loads(result.stdout)
    validate(payload)
    assert payload["channel"] == HERE and payload["metadata"]["event_type"] == "paperbot_recap"
    quiet = CliRunner().invoke(cli, ["recap", "--dry-run", "--json", "--week", "2026-W50"], env=env)
    assert quiet.exit_code == 0
    assert json.loads(quiet.stdout) == [
        {
            "channel": HERE,
            "date": "2026-12-07",
            "status": "empty",
            "posted": 0,
            "message": "No votes or replies in #CRECAP in 2026-W50; no recap posted.",
        }
    ]


@pytest.mark.parametrize(
    ("week", "said"),
    [
        ("2026-48", "'2026-48' is not an ISO week; write it as YYYY-Www, e.g. 2026-W48"),
        ("2027-W53", "2027-W53 is not a real week (2027 has 52 ISO weeks); use YYYY-Www"),
    ],
)
def test_a_bad_week_is_one_line(env: dict[str, str], week: str, said: str) -> None:
    result = CliRunner().invoke(cli, ["recap", "--dry-run", "--week", week], env=env)
    assert result.exit_code == 2
    assert said in result.output
    assert "Traceback" not in result.output
