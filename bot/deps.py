"""What listeners and jobs receive: `Deps`, the one context object, and the Slack client factory.

The composition root (bot/app.py, bot/cli/) builds one `Deps` per process and hands it down; Bolt listeners read
it with `deps_of(context)`. Domain modules take a `Deps` (or just the parts they need) as an argument and never
import the composition root.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.access import Answers
from bot.config import Settings
from bot.installs import Installs
from bot.metrics import SlackCallCounter
from bot.search.service import SearchService
from bot.search.snapshot import cache_folder
from storage.db import bounded_engine, make_sessions, reading

ANSWER_THREADS = 8  # commands and buttons answered at once (each waits on the database for a bounded time)
DEPS_KEY = "deps"  # where the composition root's middleware puts Deps in Bolt's context


class SearchHitLike(Protocol):
    """What the search engine returns per paper."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...


class SearchEngine(Protocol):
    """The search engine as lookups use it (bot.search.service.SearchService is the real one)."""

    def search(
        self, query: str, limit: int = 10, *, boost: Mapping[str, float] | Callable[[str], float] | None = None
    ) -> Sequence[SearchHitLike]: ...


@dataclass(frozen=True)
class Deps:
    """The process's shared wiring: settings, the database engine and its session factory."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @cached_property
    def search(self) -> SearchService:
        """The process's search engine over this database, started on first use: it loads the index in the
        background (answering from the database meanwhile) and then follows papers any process stores."""
        url = self.engine.url
        service = SearchService(
            self.reads, cache=cache_folder(self.settings.search_cache, url.database, url.get_backend_name())
        )
        service.start()
        return service

    @cached_property
    def installs(self) -> Installs | None:
        """The workspaces that installed the app (OAuth mode: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET), or None
        when paperbot serves the one workspace of SLACK_BOT_TOKEN."""
        if not self.settings.oauth_enabled:
            return None
        return Installs(self.settings.secret("SLACK_CLIENT_ID"), self.engine)

    def bot_token(self, team_id: str) -> str | None:
        """The bot token to act in workspace `team_id` with: its installation's (OAuth mode; None when it is not
        installed), else SLACK_BOT_TOKEN."""
        if self.installs is not None:
            return self.installs.token(team_id)
        token = self.settings.slack_bot_token
        return token.get_secret_value() if token is not None else None

    @cached_property
    def slack_answers(self) -> Answers:
        """Slack's recent word on channel members and admins (bot.access), kept a minute in this process."""
        return Answers()

    @cached_property
    def inbox_sessions(self) -> sessionmaker[Session]:
        """Sessions for the inbox write Slack's answer waits for: a small engine of their own, every wait of which
        ends within PAPERBOT_INBOX_WRITE_TIMEOUT, so a database outage cannot hold the server's threads."""
        return make_sessions(bounded_engine(self.settings.database_url, self.settings.inbox_write_timeout))

    @cached_property
    def inbox_bell(self) -> threading.Event:
        """Rung when an event reaches the inbox, so this process's idle inbox workers take it at once."""
        return threading.Event()

    @cached_property
    def reads(self) -> sessionmaker[Session]:
        """Sessions for transactions that only read (storage.db.reading): on SQLite they take no write lock."""
        return reading(self.sessions)

    @cached_property
    def answer_pool(self) -> ThreadPoolExecutor:
        """Where commands and buttons do their work once acked (bot.lanes.after_ack), apart from events."""
        return ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="paperbot-answer")

    def close(self) -> None:
        """Stop what this Deps started (the search engine's background thread, the answer pool, the inbox's
        engine), if anything; answers in flight finish first (their database waits are bounded)."""
        service = self.__dict__.get("search")
        if isinstance(service, SearchService):
            service.stop()
        pool = self.__dict__.get("answer_pool")
        if isinstance(pool, ThreadPoolExecutor):
            pool.shutdown(wait=True)
        inbox_sessions = self.__dict__.get("inbox_sessions")
        if inbox_sessions is not None:
            inbox_sessions.kw["bind"].dispose()

    @classmethod
    def of(cls, settings: Settings, sessions: sessionmaker[Session]) -> Deps:
        """Deps from a session factory bound to an engine (tests and tools that hold only the factory)."""
        engine = sessions.kw["bind"]
        assert isinstance(engine, Engine), "the session factory must be bound to an engine"
        return cls(settings=settings, engine=engine, sessions=sessions)


def deps_of(context: Any) -> Deps:
    """The Deps a listener receives through Bolt's context (typed, instead of a bare `context["deps"]`)."""
    deps = context[DEPS_KEY]
    if not isinstance(deps, Deps):
        raise TypeError(f"Bolt's context holds no Deps under {DEPS_KEY!r}: was the app built by bot.app.build_app?")
    return deps


def make_client(settings: Settings, token: str | None = None, *, idempotent_only: bool = False) -> WebClient:
    """A WebClient for the configured API base that retries 429 (after Retry-After), 5xx and connection errors.

    `idempotent_only` retries 429s alone: after a 5xx or a broken connection Slack may already have posted a
    chat.postMessage, so the digest (which must not post twice) checks the channel instead of re-sending. Every
    attempt is counted by method and result (bot.metrics.SlackCallCounter, first so that it sees them all).
    """
    retry_handlers: list[RetryHandler] = [SlackCallCounter(), RateLimitErrorRetryHandler(max_retry_count=5)]
    if not idempotent_only:
        retry_handlers += [ConnectionErrorRetryHandler(max_retry_count=2), ServerErrorRetryHandler(max_retry_count=3)]
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=int(settings.http_timeout),
        retry_handlers=retry_handlers,
    )
