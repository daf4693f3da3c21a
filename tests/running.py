"""A running paperbot: the real Bolt app behind the real HTTP server, talking to the loopback Slack.

Listener tests (tests/handlers/) and whole-app flows (tests/e2e/) start it through the `settings`, `bot` and
`sender` fixtures of tests/conftest.py, or call `running_bot` themselves for a second replica."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt import App

from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps
from bot.inbox import Workers
from bot.server import HttpServer, make_wsgi
from storage.db import make_engine, make_sessions
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack


@dataclass
class RunningBot:
    deps: Deps
    app: App
    server: HttpServer
    workers: Workers

    @property
    def url(self) -> str:
        return self.server.url


def bot_settings(db_url: str, slack: FakeSlack, **overrides: object) -> Settings:
    """Settings for a bot wired to the loopback Slack and the test database (no .env is read)."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.url,
        "hf_api_url": "http://127.0.0.1:9/api/",  # nothing listens there: a test that needs HF starts a fake
        "arxiv_api_url": "http://127.0.0.1:9/api/query",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@contextmanager
def running_bot(settings: Settings) -> Iterator[RunningBot]:
    """A bot process: the Bolt app on its own engine behind its own HTTP server, with its inbox workers (a
    replica, if called twice)."""
    engine = make_engine(settings.database_url)
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    app = build_app(deps)
    server = HttpServer(make_wsgi(app, engine), "127.0.0.1", 0).start()
    workers = Workers(deps).start()
    try:
        yield RunningBot(deps=deps, app=app, server=server, workers=workers)
    finally:
        server.stop()
        workers.stop()
        deps.close()
        engine.dispose()
