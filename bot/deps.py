"""What listeners and jobs receive: `Deps`, the one context object, and the Slack client factory.

The composition root (bot/app.py, bot/cli/) builds one `Deps` per process and hands it down; Bolt listeners read
it with `deps_of(context)`. Domain modules take a `Deps` (or just the parts they need) as an argument and never
import the composition root.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

from bot.config import Settings
from bot.search.service import SearchService
from bot.search.snapshot import cache_folder

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
            self.sessions, cache=cache_folder(self.settings.search_cache, url.database, url.get_backend_name())
        )
        service.start()
        return service

    def close(self) -> None:
        """Stop what this Deps started (the search engine's background thread, if it was ever used)."""
        service = self.__dict__.get("search")
        if isinstance(service, SearchService):
            service.stop()

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
    chat.postMessage, so the digest (which must not post twice) checks the channel instead of re-sending.
    """
    retry_handlers: list[RetryHandler] = [RateLimitErrorRetryHandler(max_retry_count=5)]
    if not idempotent_only:
        retry_handlers += [ConnectionErrorRetryHandler(max_retry_count=2), ServerErrorRetryHandler(max_retry_count=3)]
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=int(settings.http_timeout),
        retry_handlers=retry_handlers,
    )
