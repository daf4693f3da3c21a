"""The HTTP server's threads: Events API deliveries (JSON) can hold every thread of their own and a command
(form-encoded) or /healthz still finds one (bot.server.SplitDispatcher)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bot.server import EVENT_THREADS, HttpServer


def test_events_holding_every_event_thread_leave_commands_a_thread() -> None:
    release = threading.Event()
    inside = threading.Semaphore(0)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("CONTENT_TYPE", "").startswith("application/json"):
            inside.release()
            release.wait(timeout=30)  # an event stuck on a database that does not answer
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    server = HttpServer(wsgi, "127.0.0.1", 0).start()
    stuck = ThreadPoolExecutor(max_workers=EVENT_THREADS * 2)
    try:
        json = {"Content-Type": "application/json"}
        events = [
            stuck.submit(httpx.post, server.url, content=b"{}", headers=json, timeout=40)
            for _ in range(EVENT_THREADS * 2)
        ]
        for _ in range(EVENT_THREADS):  # every event thread is taken, and as many events wait behind them
            assert inside.acquire(timeout=10)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        command = httpx.post(server.url, content=b"command=%2Fpapers&text=help", headers=form, timeout=5)
        assert command.status_code == 200
        assert command.text.startswith("paperbot-http-")
        assert not command.text.startswith("paperbot-http-events")
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        assert not any(e.done() for e in events)
        release.set()
        answered = [e.result(timeout=30) for e in events]
        assert {a.text.rsplit("-", 1)[0] for a in answered} == {"paperbot-http-events"}
    finally:
        release.set()
        stuck.shutdown(wait=True)
        server.stop()
