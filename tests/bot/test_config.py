"""Settings come from the environment and .env, are typed, and never leak secrets."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from bot.config import (
    BOLT_ENVIRONMENT,
    ConfigError,
    RedactSecrets,
    SafeFormatter,
    Settings,
    configure_logging,
    hidden_from_bolt,
    load_settings,
    parse_clock,
)
from storage.text import mask_url_passwords


def test_defaults_match_the_interface(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "DATABASE_URL",
        "PAPERBOT_DIGEST_TIME",
        "PAPERBOT_TIMEZONE",
        "PAPERBOT_DIGEST_SIZE",
        "SLACK_API_URL",
        "HF_API_URL",
        "ARXIV_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///paperbot.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.hf_api_url == "https://huggingface.co/api/"
    assert settings.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert (settings.digest_time, settings.timezone, settings.digest_size) == ("09:00", "UTC", 10)
    assert settings.auto_migrate is True
    assert "fire" in settings.vote_emoji and "+1" in settings.vote_emoji


def test_dotenv_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PAPERBOT_DIGEST_SIZE=7\nPAPERBOT_TIMEZONE=Europe/Berlin\n")
    monkeypatch.setenv("PAPERBOT_TIMEZONE", "America/New_York")
    monkeypatch.setenv("PAPERBOT_AUTO_MIGRATE", "0")
    settings = load_settings()
    assert settings.digest_size == 7
    assert settings.timezone == "America/New_York"
    assert settings.auto_migrate is False


def test_vote_emoji_list_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_VOTE_EMOJI", ":fire:, tada")
    assert load_settings().vote_emoji == ("fire", "tada")


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("PAPERBOT_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("PAPERBOT_DIGEST_TIME", "9am", "HH:MM"),
        ("PAPERBOT_DIGEST_SIZE", "0", "PAPERBOT_DIGEST_SIZE"),
    ],
)
def test_invalid_values_are_named(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert variable in str(error.value)
    assert named in str(error.value)


def test_missing_secret_names_variable_and_fix() -> None:
    settings = Settings(_env_file=None, slack_bot_token=None)
    with pytest.raises(ConfigError, match=r"SLACK_BOT_TOKEN is not set: put the xoxb- token"):
        settings.secret("SLACK_BOT_TOKEN")


DB_URL = "postgresql+psycopg://paperbot:db-pass:w/rd@db.internal:5432/paperbot"


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-very-secret",
        slack_signing_secret="shh-signing",
        slack_app_token="xapp-1-secret",
        slack_client_secret="client-secret",
        database_url=DB_URL,
    )
    shown = repr(settings) + str(settings) + str(settings.model_dump()) + settings.model_dump_json()
    for secret in ("xoxb-very-secret", "shh-signing", "xapp-1-secret", "client-secret", "db-pass"):
        assert secret not in shown
    assert "database_url" not in repr(settings)
    assert "postgresql+psycopg://paperbot:***@db.internal:5432/paperbot" in settings.model_dump_json()
    # The real values are there for whoever needs them.
    assert settings.secret("SLACK_BOT_TOKEN") == "xoxb-very-secret"
    assert settings.database_url == DB_URL
    assert settings.model_copy(update={"digest_size": 3}).database_url == DB_URL


def test_log_lines_with_tokens_are_redacted() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling with %s", ("xoxb-123-456-abc",), None)
    RedactSecrets().filter(record)
    assert "xoxb-123" not in record.getMessage()
    assert "redacted" in record.getMessage()


def test_log_lines_with_database_passwords_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "cannot reach %s", (DB_URL,), None)
    RedactSecrets().filter(record)
    assert record.getMessage() == "cannot reach postgresql+psycopg://paperbot:***@db.internal:5432/paperbot"
    # Through the handlers `configure_logging` installs, as every command's log lines go.
    root = logging.getLogger()
    handlers = root.handlers[:]
    try:
        root.handlers = [logging.StreamHandler()]  # stderr as pytest captures it now
        configure_logging(Settings(_env_file=None))
        logging.getLogger("paperbot.test").warning("engine %s with xoxb-1-2-3", DB_URL)
    finally:
        root.handlers = handlers
    err = capsys.readouterr().err
    assert "engine postgresql+psycopg://paperbot:***@db.internal" in err
    assert "db-pass" not in err and "xoxb-1-2-3" not in err


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_http_request_lines_show_only_at_debug(
    level: str, shown: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    try:
        root.handlers = [logging.StreamHandler()]
        root.setLevel(level)  # as basicConfig would on a root without handlers (here it leaves this one alone)
        monkeypatch.setenv("PAPERBOT_LOG_LEVEL", level)
        configure_logging(Settings(_env_file=None))
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:9/api/daily_papers")
        logging.getLogger("httpx").warning("an httpx warning")
    finally:
        root.handlers, root.level = handlers, root_level
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    assert ("HTTP Request: GET" in err) is shown
    assert "an httpx warning" in err


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("sqlite:///paperbot.db", "sqlite:///paperbot.db"),
        ("postgresql+psycopg://bot@db/paperbot", "postgresql+psycopg://bot@db/paperbot"),
        ("postgres://bot:p%40ss@db:5432/x and mysql://u:v@h/d", "postgres://bot:***@db:5432/x and mysql://u:***@h/d"),
        (
            "https://huggingface.co/api/daily_papers?date=2026-11-24",
            "https://huggingface.co/api/daily_papers?date=2026-11-24",
        ),
    ],
    ids=["file-url", "no-password", "two-passwords", "web-url"],
)
def test_mask_url_passwords(text: str, shown: str) -> None:
    assert mask_url_passwords(text) == shown


def test_bolt_sees_none_of_its_environment_variables_while_the_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in BOLT_ENVIRONMENT:
        monkeypatch.setenv(name, f"value-of-{name}")
    with hidden_from_bolt():
        assert not set(BOLT_ENVIRONMENT) & set(os.environ)
    assert all(os.environ[name] == f"value-of-{name}" for name in BOLT_ENVIRONMENT)


def test_parse_clock() -> None:
    assert parse_clock("07:05").hour == 7
    assert parse_clock("23:59").minute == 59
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("24:00")


def _formatted(record: logging.LogRecord) -> str:
    return SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)


def test_a_traceback_holding_a_secret_is_masked() -> None:
    try:
        raise RuntimeError(f"cannot connect to {DB_URL} with xoxb-9-8-secret")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = _formatted(record)
    assert "Traceback" in line and "RuntimeError" in line
    assert "db-pass" not in line and "xoxb-9-8" not in line
    assert "paperbot:***@db.internal" in line


def test_a_log_line_from_data_with_line_breaks_stays_one_line() -> None:
    forged = "hi\n2026-12-03 13:00:00 INFO paperbot: admin logged in\r\x1b[31m\u2028"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "reply from %s", (forged,), None)
    line = _formatted(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert line == "INFO x: reply from hi\\n2026-12-03 13:00:00 INFO paperbot: admin logged in\\r\\x1b[31m\\u2028"


def test_configure_logging_writes_tracebacks_on_one_masked_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers = root.handlers[:]
    try:
        root.handlers = [logging.StreamHandler()]
        configure_logging(Settings(_env_file=None))
        try:
            raise ValueError("token xoxb-1-2-3\nsecond line")
        except ValueError:
            logging.getLogger("paperbot.test").exception("listener failed")
    finally:
        root.handlers = handlers
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" in err and "xoxb-1-2-3" not in err
