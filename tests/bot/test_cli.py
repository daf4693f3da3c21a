"""The `paperbot` command line: help everywhere, one-line failures, migrations on start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from slack_bolt import App
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import make_url

from bot.app import TOKEN_UNUSED
from bot.cli import cli, start_bot
from bot.deps import Deps
from bot.server import HttpServer, make_wsgi
from storage.db import make_engine, make_sessions
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.running import bot_settings


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
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


def test_db_upgrade_migrates_an_empty_database(runner: CliRunner, tmp_path: Path) -> None:
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
    result = runner.invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
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


# ---- a bad DATABASE_URL, through the installed console script ------------------------------------------------

SAMPLE = Path(__file__).parents[2] / "bot" / "data" / "sample_daily_papers.json"


def script() -> str:
    """The installed `paperbot` console script."""
    return str(Path(sys.executable).parent / "paperbot")


def paperbot_env(env: dict[str, str]) -> dict[str, str]:
    """This environment with only the given variables of ours set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOT_", "DATABASE_URL"))}
    return {**clean, **env}


def paperbot(args: list[str], *, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `paperbot` console script with only the given variables of ours set."""
    return subprocess.run([script(), *args], cwd=cwd, env=paperbot_env(env), capture_output=True, text=True, timeout=60)


GOOD = "write it like sqlite:///paperbot.db or postgresql+psycopg://user@host/db"
COMMANDS = {
    "db": ["db", "upgrade"],
    "digest": ["digest", "--dry-run"],
    "import": ["import", str(SAMPLE)],
    "serve": ["serve", "--http", "--port", "3000"],  # the database fails before the port is bound
}


@pytest.mark.parametrize(
    ("command", "url", "said"),
    [
        *[(name, "bogus", f"DATABASE_URL 'bogus' is not a database URL; {GOOD}") for name in COMMANDS],
        (
            "db",
            "mysql://bot:hunter2@db/paperbot",
            "DATABASE_URL 'mysql://bot:***@db/paperbot' needs a database driver "
            "that is not installed (No module named 'MySQLdb'); paperbot comes with SQLite and PostgreSQL (psycopg), "
            f"so {GOOD}",
        ),
        (
            "db",
            "mysql://bot:hunter2 and more@db/paperbot",
            "DATABASE_URL 'mysql://bot:***@db/paperbot' needs a "
            "database driver that is not installed (No module named 'MySQLdb'); paperbot comes with SQLite and "
            "PostgreSQL "
            f"(psycopg), so {GOOD}",
        ),
        (
            "import",
            "sqlite+nosuchdb:///x.db",
            "DATABASE_URL 'sqlite+nosuchdb:///x.db' names a database or driver "
            f"SQLAlchemy does not know (sqlite+nosuchdb); {GOOD}",
        ),
        (
            "digest",
            "postgresql+psycopg://bot:hunter2@db:port/x",
            "DATABASE_URL 'postgresql+psycopg://bot:***@db:port/x' "
            f"is not a valid database URL (invalid literal for int() with base 10: 'port'); {GOOD}",
        ),
    ],
    ids=[
        *(f"{name}-unparseable" for name in COMMANDS),
        "db-driver-missing",
        "db-password-with-spaces",
        "import-unknown",
        "digest-bad-port",
    ],
)
def test_a_bad_database_url_is_one_line_and_exit_1_in_every_command(
    tmp_path: Path, command: str, url: str, said: str
) -> None:
    result = paperbot(
        COMMANDS[command], cwd=tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s"
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [f"paperbot: {said}"]  # one line, no traceback
    assert "hunter2" not in result.stderr + result.stdout
    assert not list(tmp_path.iterdir())  # nothing created on the way


def test_postgres_urls_without_a_driver_use_psycopg(tmp_path: Path, pg_url: str) -> None:
    """Hosting services hand out postgres://… URLs; they work as they are."""
    url = make_url(pg_url).set(drivername="postgres").render_as_string(hide_password=False)
    result = paperbot(["db", "upgrade"], cwd=tmp_path, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("postgresql+psycopg://") and "schema at" in result.stdout


# ---- serve's start-up: Bolt takes its settings from paperbot, never from the environment --------------------


def start_http_bot(db_url: str, slack: FakeSlack) -> tuple[App, Engine]:
    """What `paperbot serve --http` builds before it listens (the scheduler aside)."""
    settings = bot_settings(db_url, slack)  # reads the environment, as `serve` does
    engine = make_engine(settings.database_url)
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    return start_bot(deps, socket_mode=False, scheduler=False), engine


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_starting_the_app_with_the_token_in_the_environment_logs_no_warning(
    db_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # how `serve` is normally configured
    with caplog.at_level(logging.INFO):
        app, engine = start_http_bot(db_url, slack)
    engine.dispose()
    assert warnings_in(caplog) == []
    assert app.client.token == BOT_TOKEN and slack.calls_to("auth.test")


def test_oauth_credentials_switch_to_installs_in_our_database_and_say_the_token_is_unused(
    db_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Bolt alone would switch to OAuth on seeing these with file-based installation stores; paperbot gives it
    # slack_sdk's SQLAlchemy stores in its own database (migration 0012) and says the bot token is not used.
    for name, value in {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_CLIENT_ID": "1234.5678",
        "SLACK_CLIENT_SECRET": "client-secret",
    }.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.INFO):
        app, engine = start_http_bot(db_url, slack)
    assert warnings_in(caplog) == [TOKEN_UNUSED]
    assert app.oauth_flow is not None and app.oauth_flow.install_path == "/slack/install"
    assert isinstance(app.installation_store, SQLAlchemyInstallationStore)
    assert str(app.installation_store.engine.url) == str(engine.url)
    assert os.environ["SLACK_CLIENT_ID"] == "1234.5678"  # put back once the app is built
    server = HttpServer(make_wsgi(app, engine), "127.0.0.1", 0).start()
    try:
        page = httpx.get(server.url + "/slack/install")
    finally:
        server.stop()
        engine.dispose()
    assert page.status_code == 200 and "client_id=1234.5678" in page.text


# ---- what a newcomer meets first: settings, pipes, dates -------------------------------------------------------


def test_a_bad_log_level_is_one_line_naming_the_variable_and_the_levels(tmp_path: Path) -> None:
    result = paperbot(["digest", "--dry-run", "--source", "sample"], cwd=tmp_path, PAPERBOT_LOG_LEVEL="LOUD")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "paperbot: PAPERBOT_LOG_LEVEL: Value error, 'LOUD' is not a log level; "
        "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]
    assert not list(tmp_path.iterdir())  # stopped before the database was opened
    quiet = paperbot(["digest", "--dry-run", "--source", "sample"], cwd=tmp_path, PAPERBOT_LOG_LEVEL="debug")
    assert quiet.returncode == 0, quiet.stderr  # the level's case does not matter


PRINTING = {
    "export": ["export"],
    "digest-json": ["digest", "--dry-run", "--json", "--source", "sample"],
    "db-upgrade": ["db", "upgrade"],
    "help": ["--help"],
}


@pytest.mark.parametrize("args", PRINTING.values(), ids=PRINTING.keys())
def test_a_reader_that_goes_away_ends_the_command_quietly_with_status_0(
    tmp_path: Path, db_url: str, args: list[str]
) -> None:
    """`paperbot export | head -1`: the reader (here: gone before anything was written) has what it wanted."""
    process = subprocess.Popen(
        [script(), *args],
        cwd=tmp_path,
        env=paperbot_env({"DATABASE_URL": db_url}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # every write from now on is to a pipe nobody reads
    errors = process.stderr.read()
    assert process.wait(timeout=60) == 0, errors
    assert "Broken pipe" not in errors and "BrokenPipeError" not in errors and "Traceback" not in errors


def test_export_into_head_stops_after_the_first_line(tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import insert

    from storage.models import Post
    from storage.papers import upsert_papers
    from storage.records import PaperRecord

    engine = make_engine(db_url)
    ids = [f"2501.{n:05d}" for n in range(1, 2001)]  # far more than a pipe holds
    with make_sessions(engine).begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=i, title=f"Paper {i}") for i in ids])
        session.execute(
            insert(Post),
            [
                {"team_id": "T1", "channel_id": "C1", "ts": f"{1764000000 + n}.000100", "arxiv_id": i, "kind": "digest"}
                for n, i in enumerate(ids)
            ],
        )
    engine.dispose()
    shell = f"{script()} export | head -1; echo status=${{PIPESTATUS[0]}}"
    result = subprocess.run(
        ["bash", "-c", shell],
        cwd=tmp_path,
        env=paperbot_env({"DATABASE_URL": db_url}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.splitlines() == ["[", "status=0"]
    assert result.stderr == ""


DATED = {
    "digest --date": ["digest", "--dry-run", "--source", "sample", "--date"],
    "fetch --date": ["fetch", "--date"],
    "fetch --since": ["fetch", "--since"],
    "fetch --until": ["fetch", "--until"],
    "export --since": ["export", "--since"],
}


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("2026-13-01", "2026-13-01 is not a real date (month 13); use YYYY-MM-DD"),
        ("2026-02-29", "2026-02-29 is not a real date (February 2026 has 28 days); use YYYY-MM-DD"),
        ("26-11-2026", "'26-11-2026' is not a date; use YYYY-MM-DD, e.g. 2026-11-24"),
    ],
)
def test_every_date_option_is_written_and_checked_as_yyyy_mm_dd(runner: CliRunner, given: str, said: str) -> None:
    for args in DATED.values():
        option = args[-1]
        helped = runner.invoke(cli, [args[0], "--help"])
        assert f"{option} YYYY-MM-DD" in helped.output and "%Y" not in helped.output
        result = runner.invoke(cli, [*args, given])
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '{option}': {said}" in result.output


def test_a_real_date_is_taken(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["digest", "--dry-run", "--source", "sample", "--size", "1", "--date", "2024-02-29"])
    assert result.exit_code == 0, result.output
