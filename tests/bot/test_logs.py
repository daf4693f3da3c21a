"""Log lines as operators read them: PAPERBOT_LOG_FORMAT=json writes one JSON object per line with the Slack
context of the work in hand and no secret (tokens by their shape, configured secrets by their value, tracebacks
included); the text format stays as it was."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import Settings, configure_logging
from bot.logs import log_context
from tests.e2e.test_metrics import home_opened, moved, scrape
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"  # shaped as Slack's signing secrets: nothing marks it as one
TOKEN = "xoxb-17653672481-19874698323-pdFZKVExuiJnKbYjMV9n0s7A"  # configured: masked by value
SHAPED = "xoxp-5551212-5551313-notconfiguredanywhere"  # never configured: masked by its shape


@pytest.fixture
def root_handler() -> Iterator[None]:
    """The root logger, restored after the test (`configured` gives it a handler of its own)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.setLevel(logging.INFO)
    yield
    root.handlers, root.level = handlers, level


def configured(monkeypatch: pytest.MonkeyPatch, log_format: str | None) -> None:
    """configure_logging on one stderr handler (created now, so that it writes where pytest captures)."""
    logging.getLogger().handlers = [logging.StreamHandler()]
    if log_format:
        monkeypatch.setenv("PAPERBOT_LOG_FORMAT", log_format)
    configure_logging(Settings(_env_file=None, slack_signing_secret=SIGNING, slack_bot_token=TOKEN))


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines()]


def test_a_json_line_holds_the_context_and_no_secret_even_in_a_traceback(
    root_handler: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configured(monkeypatch, "json")
    with log_context(team="T1", channel="C9", command="/papers search", event_id="Ev1"):
        try:
            raise RuntimeError(f"Slack said no to {TOKEN} and {SHAPED}\nsigned with {SIGNING}")
        except RuntimeError:
            logging.getLogger("paperbot.test").exception("listener failed for %s", SIGNING)
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one record, one line
    [record] = json_lines(err)
    assert record["level"] == "ERROR" and record["logger"] == "paperbot.test"
    assert record["message"] == "listener failed for …redacted…"
    assert (record["team"], record["channel"], record["command"], record["event_id"]) == (
        "T1",
        "C9",
        "/papers search",
        "Ev1",
    )
    assert record["exception"].startswith("Traceback")
    assert (
        "RuntimeError: Slack said no to …redacted… and xoxp-…redacted…\nsigned with …redacted…" in record["exception"]
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["time"])
    for secret in (TOKEN, SHAPED, SIGNING, "17653672481", "5551212"):
        assert secret not in err


def test_json_escapes_what_data_would_break_a_line_with(
    root_handler: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configured(monkeypatch, "json")
    forged = 'hi\n{"level": "INFO", "message": "admin logged in"}\u2028\x1b[31m'
    logging.getLogger("paperbot.test").warning("reply from %s", forged)
    err = capsys.readouterr().err
    [record] = json_lines(err)
    assert record["message"] == f"reply from {forged}"
    assert "team" not in record  # no context outside any work
    assert "\u2028" not in err and "\x1b" not in err


def test_text_format_is_the_default_and_unchanged(
    root_handler: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAPERBOT_LOG_FORMAT", raising=False)
    configured(monkeypatch, None)
    with log_context(team="T1", channel="C9"):
        logging.getLogger("paperbot.test").warning("engine ready with %s", SIGNING)
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING paperbot\.test: engine ready with …redacted…\n", err
    ), err


def test_an_unknown_log_format_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import ConfigError, load_settings

    monkeypatch.setenv("PAPERBOT_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match=r"PAPERBOT_LOG_FORMAT: .*'xml' is not a log format; use text or json"):
        load_settings(_env_file=None)


def test_a_failing_listener_logs_its_team_event_and_channel_through_the_endpoint(
    root_handler: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bot: RunningBot,
    sender: SlackSender,
    slack: FakeSlack,
) -> None:
    configured(monkeypatch, "json")
    before = scrape(bot.url)
    slack.fail_next("views.publish", error="not_authed")
    assert sender.event(home_opened(), event_id="EvHome1").status_code == 200

    def logged() -> list[dict[str, Any]]:
        return [r for r in json_lines(capsys.readouterr().err) if r.get("exception")]

    [record] = slack.wait_for(logged)
    assert (record["team"], record["event_id"], record["channel"]) == (TEAM_ID, "EvHome1", "D0HOME")
    assert "SlackApiError" in record["exception"] and "not_authed" in record["exception"]
    after = scrape(bot.url)
    assert moved(before, after, "paperbot_slack_api_calls_total", method="views.publish", result="error") == 1
