"""Socket Mode end to end: the real Bolt app connects to a loopback Socket Mode endpoint and answers on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps
from bot.server import socket_mode_handler
from storage.db import make_engine, make_sessions
from tests.fakes.slack import APP_TOKEN, TEAM_ID, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.running import bot_settings


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode().start()
    slack.socket_url = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def connected(db_url: str, slack: FakeSlack, socket_mode: FakeSocketMode) -> Iterator[FakeSocketMode]:
    # No signing secret at all: Socket Mode has no signatures to check.
    settings: Settings = bot_settings(db_url, slack, slack_signing_secret=None, slack_app_token=APP_TOKEN)
    engine = make_engine(settings.database_url)
    app = build_app(Deps(settings=settings, engine=engine, sessions=make_sessions(engine)), socket_mode=True)
    handler = socket_mode_handler(app, settings.secret("SLACK_APP_TOKEN"))
    handler.connect()
    assert socket_mode.connected.wait(10), "the bot never opened the Socket Mode connection"
    yield socket_mode
    socket_mode.stop()  # the server side first, so the client is not left waiting for a close handshake
    handler.close()
    engine.dispose()


def test_connection_is_opened_with_the_app_token(connected: FakeSocketMode, slack: FakeSlack) -> None:
    opened = slack.calls_to("apps.connections.open")
    assert opened and opened[0].token == APP_TOKEN


def test_papers_help_over_socket_mode(connected: FakeSocketMode) -> None:
    envelope = connected.send(
        "slash_commands",
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "channel_id": "C0001",
            "user_id": "U0001",
            "command": "/papers",
            "text": "help",
            "response_url": "",
            "trigger_id": "1.2.3",
            "api_app_id": "A0001",
        },
    )
    ack = connected.ack_for(envelope)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "/papers config" in str(ack["payload"]["blocks"])


def test_unknown_subcommand_over_socket_mode(connected: FakeSocketMode) -> None:
    envelope = connected.send(
        "slash_commands",
        {
            "team_id": TEAM_ID,
            "channel_id": "C0001",
            "user_id": "U0001",
            "command": "/papers",
            "text": "frobnicate",
            "response_url": "",
            "trigger_id": "1.2.3",
            "api_app_id": "A0001",
        },
    )
    assert "`frobnicate`" in connected.ack_for(envelope)["payload"]["text"]
