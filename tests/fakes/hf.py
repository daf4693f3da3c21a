"""A loopback Hugging Face API: `GET /api/daily_papers` and `GET /api/papers/{id}`, real response shapes.

`FakeHF` keeps a list of `daily_papers` items per day, pages them exactly as HF does (`p` is 0-based, `limit`
items a page, `[]` past the end, 400 on a bad date), serves flat paper objects, logs every request, and can
fail on demand: the next N requests under a path prefix answer a given status, headers and body (5xx, 429 with
`Retry-After`/`RateLimit`, a malformed body), or are held for a while so the client times out.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

from tests.fakes import QuietHandler, serve_in_background, stop_server


@dataclass
class Request:
    path: str
    params: dict[str, str]


@dataclass
class Failure:
    prefix: str
    status: int
    times: int
    headers: dict[str, str]
    body: str | bytes | None


@dataclass
class FakeHF:
    """State and behaviour of the fake; `url` is the base to give the client as HF_API_URL."""

    days: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    papers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)  # the User-Agent header of every request
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    # ---- control -------------------------------------------------------------------------------------------
    def set_daily(self, day: date, items: list[dict[str, Any]]) -> None:
        """The `daily_papers` items of `day`, in the order HF lists them."""
        with self._lock:
            self.days[day] = list(items)

    def set_paper(self, arxiv_id: str, obj: dict[str, Any]) -> None:
        """The flat object `GET /api/papers/{arxiv_id}` answers."""
        with self._lock:
            self.papers[arxiv_id] = obj

    def fail_next(
        self,
        path_prefix: str,
        status: int = 500,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> None:
        """The next `times` requests whose path (after /api/, with its query string, e.g.
        `daily_papers?date=2025-11-30`) starts with `path_prefix` answer `status` with
        `headers` and `body` (raw; default a JSON error). A 200 with a broken body is a malformed response."""
        with self._lock:
            self.failures.append(Failure(path_prefix.lstrip("/"), status, times, headers or {}, body))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` requests for `seconds` before answering (released early by `stop`)."""
        with self._lock:
            self.delays.extend([seconds] * times)

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    # ---- the API -------------------------------------------------------------------------------------------
    def _take_failure(self, path: str) -> Failure | None:
        for failure in self.failures:
            if path.startswith(failure.prefix):
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _days_for(self, params: dict[str, str]) -> list[date] | None:
        """The days a `date`/`week`/`month` query covers, newest first as HF lists them; None if malformed."""
        try:
            if "date" in params:
                return [date.fromisoformat(params["date"])]
            if "week" in params:
                year, week = re.fullmatch(r"(\d{4})-W(\d{2})", params["week"]).groups()  # type: ignore[union-attr]
                monday = date.fromisocalendar(int(year), int(week), 1)
                return [monday + timedelta(days=6 - i) for i in range(7)]
            if "month" in params:
                year, month = re.fullmatch(r"(\d{4})-(\d{2})", params["month"]).groups()  # type: ignore[union-attr]
                first = date(int(year), int(month), 1)
                nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
                return [nxt - timedelta(days=i) for i in range(1, (nxt - first).days + 1)]
        except (AttributeError, ValueError):
            return None
        return sorted(self.days, reverse=True)

    def daily_papers(self, params: dict[str, str]) -> tuple[int, Any]:
        days = self._days_for(params)
        try:
            page, limit = int(params.get("p", 0)), int(params.get("limit", 50))
        except ValueError:
            return 400, {"error": "p and limit must be integers"}
        if days is None or page < 0 or limit < 1:
            return 400, {"error": "Invalid date, week or month"}
        items = [item for day in days for item in self.days.get(day, [])]
        return 200, items[page * limit : (page + 1) * limit]

    def handle(self, path: str, params: dict[str, str], query: str = "") -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.requests.append(Request(path, params))
            failure = self._take_failure(f"{path}?{query}" if query else path)
            if failure is not None:
                body: Any = failure.body
                if body is None:
                    body = {"error": f"fake failure {failure.status}"}
                return failure.status, failure.headers, body
            if path == "daily_papers":
                status, body = self.daily_papers(params)
                return status, {}, body
            if path.startswith("papers/"):
                paper = self.papers.get(path.removeprefix("papers/"))
                if paper is None:
                    return 404, {}, {"error": "Paper not found"}
                return 200, {}, paper
        return 404, {}, {"error": "Sorry, we can't find the page you are looking for."}

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def _delay(self) -> float:
        with self._lock:
            return self.delays.pop(0) if self.delays else 0.0

    def start(self) -> FakeHF:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                path = unquote(parsed.path).removeprefix("/api/")
                with fake._lock:
                    fake.user_agents.append(self.headers.get("User-Agent", ""))
                status, headers, body = fake.handle(path, dict(parse_qsl(parsed.query)), parsed.query)
                delay = fake._delay()
                if delay and fake._release.wait(delay):
                    return
                data = (
                    body
                    if isinstance(body, bytes)
                    else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
                )
                self.answer(status, data, "application/json; charset=utf-8", headers)

        self._server = serve_in_background(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"
        return self

    def stop(self) -> None:
        self._release.set()
        stop_server(self._server)


def daily_item(arxiv_id: str, title: str, day: date, *, upvotes: int | None = 0, **paper: Any) -> dict[str, Any]:
    """A `daily_papers` item of the real shape, for tests that need one quickly (extra keys go in `paper`)."""
    stamp = f"{day.isoformat()}T13:00:00.000Z"
    return {
        "paper": {
            "id": arxiv_id,
            "title": title,
            "authors": [{"_id": "0" * 24, "name": "A. Author", "hidden": False}],
            "publishedAt": stamp,
            "summary": f"Abstract of {title}.",
            "upvotes": upvotes,
            "discussionId": "1" * 24,
            **paper,
        },
        "publishedAt": stamp,
        "title": title,
        "summary": f"Abstract of {title}.",
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": 0,
        "isAuthorParticipating": False,
    }
