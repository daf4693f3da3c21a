"""The bot's real HTTP endpoint, driven by signed requests as Slack sends them."""

from __future__ import annotations

import json
import time

import httpx

from bot.server import HttpServer, make_wsgi
from storage.db import make_engine
from tests.fakes.slack import FakeSlack, SlackSender
from tests.running import RunningBot


def test_forged_signature_is_rejected(sender: SlackSender) -> None:
    body = "command=%2Fpapers&text=help&team_id=T0001"
    headers = sender.signed_headers(body, content_type="application/x-www-form-urlencoded")
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    response = sender.client.post(sender.endpoint, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}


def test_signature_by_another_secret_is_rejected(bot: RunningBot) -> None:
    impostor = SlackSender(bot.url + "/slack/events", signing_secret="not-the-secret")
    response = impostor.command("help")
    assert response.status_code == 401


def test_stale_timestamp_is_rejected(sender: SlackSender) -> None:
    six_minutes_ago = int(time.time()) - 6 * 60
    response = sender.post(
        "command=%2Fpapers&text=help", "application/x-www-form-urlencoded", timestamp=six_minutes_ago
    )
    assert response.status_code == 401


def test_missing_signature_headers_are_rejected(sender: SlackSender) -> None:
    response = httpx.post(
        sender.endpoint,
        content=b"command=%2Fpapers&text=help",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401


def test_body_altered_after_signing_is_rejected(sender: SlackSender) -> None:
    body = "command=%2Fpapers&text=help"
    headers = sender.signed_headers(body, content_type="application/x-www-form-urlencoded")
    response = sender.client.post(sender.endpoint, content=body + "&user_id=UEVIL", headers=headers)
    assert response.status_code == 401


def test_url_verification_is_answered(sender: SlackSender) -> None:
    body = json.dumps(
        {
            "token": "legacy",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = sender.post(body, "application/json")
    assert response.status_code == 200
    assert response.json()["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


def test_papers_help_answers_with_usage(sender: SlackSender) -> None:
    response = sender.command("help")
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    text = json.dumps(reply["blocks"])
    for sub in ("help [subcommand]", "digest [now]", "config [&lt;setting&gt; &lt;value&gt;]", "search &lt;text&gt;"):
        assert f"/papers {sub}" in text


def test_papers_without_text_shows_help(sender: SlackSender) -> None:
    reply = sender.command("").json()
    assert "/papers digest [now]" in json.dumps(reply["blocks"])


def test_unknown_subcommand_names_the_problem(sender: SlackSender, bot: RunningBot) -> None:
    reply = sender.command("fly me to the moon").json()
    assert reply["response_type"] == "ephemeral"
    assert "`fly`" in reply["text"]
    assert "/papers help" in reply["text"]


def test_hostile_subcommand_is_escaped(sender: SlackSender) -> None:
    reply = sender.command("<!channel>&boom").json()
    shown = json.dumps(reply["blocks"])
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;&amp;boom" in shown


def test_healthz_reports_database(bot: RunningBot) -> None:
    response = httpx.get(bot.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "reachable"}


def test_healthz_fails_when_database_is_unreachable() -> None:
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    server = HttpServer(make_wsgi(None, dead), "127.0.0.1", 0).start()
    try:
        response = httpx.get(server.url + "/healthz", timeout=10)
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
    finally:
        server.stop()


def test_bot_asked_slack_who_it_is(bot: RunningBot, slack: FakeSlack) -> None:
    # Bolt calls auth.test with our token to learn its own bot id (needed to ignore its own events).
    calls = slack.calls_to("auth.test")
    assert calls and calls[0].token == "xoxb-test-token"
