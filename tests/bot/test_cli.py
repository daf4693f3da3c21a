"""The `paperbot` command line: help everywhere, one-line failures, migrations on start."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from bot.cli import cli


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path) -> CliRunner:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env, no stray paperbot.db
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_every_command_has_help(runner: CliRunner) -> None:
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    commands = [line.split()[0] for line in top.output.split("Commands:")[1].strip().splitlines()]
    assert {"serve", "db"} <= set(commands)
    for name in commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage: " in result.output


def test_db_upgrade_migrates_an_empty_database(runner: CliRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = runner.invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    assert "schema empty -> " in first.output
    assert "papers" in inspect(create_engine(url)).get_table_names()
    second = runner.invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": url})
    assert "nothing to do" in second.output


def test_db_upgrade_on_postgresql(runner: CliRunner, pg_url: str) -> None:
    result = runner.invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": pg_url})
    assert result.exit_code == 0, result.output
    assert "schema at" in result.output or "->" in result.output


def test_unreachable_database_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["db", "upgrade"],
                           env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert result.exit_code != 0
    assert "cannot migrate postgresql+psycopg://nobody@127.0.0.1:1/none" in result.output
    assert "check DATABASE_URL" in result.output
    assert "Traceback" not in result.output


def test_serve_without_token_names_the_variable(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["serve", "--http"])
    assert result.exit_code != 0
    assert "SLACK_BOT_TOKEN is not set" in result.output


def test_serve_without_mode_says_how_to_choose(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["serve"], env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.exit_code != 0
    assert "SLACK_APP_TOKEN" in result.output and "--http" in result.output


def test_serve_http_without_signing_secret(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["serve", "--http"], env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.exit_code != 0
    assert "SLACK_SIGNING_SECRET is not set" in result.output
    assert "xoxb-1" not in result.output
