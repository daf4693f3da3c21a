"""Serving the Bolt app: HTTP mode on waitress (a production WSGI server) or Socket Mode."""

from __future__ import annotations

import errno
import io
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine
from waitress import wasyncore
from waitress.server import create_server
from waitress.task import ThreadedTaskDispatcher

from bot.gate import MAX_BODY, Rejected, admit, log_rejection, quiet_bolt_signature_log
from bot.metrics import exposition
from storage.db import make_sessions, ping, reading

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
METRICS_PATH = "/metrics"
EVENT_THREADS = 8  # HTTP threads for Events API deliveries (JSON bodies)
PEOPLE_THREADS = 4  # HTTP threads of their own for everything else: commands, buttons, views, /healthz
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi(app: App | None, engine: Engine, *, metrics: bool = True, multiproc_dir: str = "") -> WSGIApp:
    """`GET /healthz` (200 while the database answers, else 503), `GET /metrics` (Prometheus; bot.metrics) unless
    `metrics` is off and, with an app, `POST /slack/events`: only requests that pass the gate (bot/gate.py) reach
    Bolt; every other request gets a 4xx and one log line. Health and metrics need no signature: they take no
    input and show no Slack data."""
    slack = _slack_endpoint(app) if app is not None else None
    oauth = _oauth_pages(app) if app is not None and app.oauth_flow is not None else {}
    reads = reading(make_sessions(engine))

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        if path == "/healthz" and method in ("GET", "HEAD"):
            healthy = ping(engine)
            body = {"ok": healthy, "database": "reachable" if healthy else "unreachable"}
            return _answer(start_response, 200 if healthy else 503, body)
        if metrics and path == METRICS_PATH:
            if method not in ("GET", "HEAD"):
                return _answer(start_response, 405, {"error": "method not allowed"})
            text, content_type = exposition(reads, multiproc_dir=multiproc_dir)
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(text)))])
            return [text] if method == "GET" else []
        if slack is not None and path == SLACK_PATH:
            if method != "POST":
                return _answer(start_response, 405, {"error": "method not allowed"})
            return slack(environ, start_response)
        if path in oauth:  # OAuth installs: "Add to Slack" and Slack's redirect back (no signature: a browser)
            if method not in ("GET", "HEAD"):
                return _answer(start_response, 405, {"error": "method not allowed"})
            return oauth[path](environ, start_response)
        return _answer(start_response, 404, {"error": "not found"})

    return wsgi


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    503: "Service Unavailable",
}


def _answer(start_response: Callable[..., Any], status: int, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(f"{status} {_REASONS[status]}", headers)
    return [body]


def _slack_endpoint(app: App) -> WSGIApp:
    """Bolt's WSGI handler behind the gate. A signed request that still trips Bolt up (a payload of a shape
    Slack never sends) is a 400 with one log line, not a 500 with a traceback."""
    bolt = SlackRequestHandler(app, path=SLACK_PATH)
    secret = app._signing_secret  # the secret Bolt checks with: the gate checks first, with the same one
    quiet_bolt_signature_log()

    def endpoint(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            body = admit(environ, secret)
        except Rejected as rejected:
            log_rejection(environ, rejected)
            return _answer(start_response, rejected.status, {"error": "invalid request"})
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        try:
            return bolt(environ, start_response)
        except Exception as exc:  # Bolt answers only after it has dispatched, so nothing was started yet
            log_rejection(environ, Rejected(400, f"Bolt could not read it ({exc.__class__.__name__})"), len(body))
            return _answer(start_response, 400, {"error": "invalid request"})

    return endpoint


def _oauth_pages(app: App) -> dict[str, WSGIApp]:
    """`GET /slack/install` and `GET /slack/oauth_redirect`, answered by Bolt's OAuth flow (bot/installs.py)."""
    flow = app.oauth_flow
    assert flow is not None
    bolt = SlackRequestHandler(app, path=SLACK_PATH)

    def page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return bolt({**environ, "REQUEST_METHOD": "GET"}, start_response)

    return {flow.install_path: page, flow.redirect_uri_path: page}


class ListenError(Exception):
    """The address to serve on cannot be had; the message names it and says what to do."""


def listen_sockets(host: str, port: int) -> list[socket.socket]:
    """Sockets bound and listening on every address of `host` (as waitress would listen), so that a port in use
    stops `serve` before it asks Slack anything or starts the scheduler, rather than after."""
    where = f"{host}:{port}"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: {exc.strerror}; check --host") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: restarts don't wait
            sock.bind(address)
            sock.listen(1024)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(f"cannot listen on {where}: {_why(exc, port)}") from None
    return sockets


def _why(exc: OSError, port: int) -> str:
    """What a failed bind means for the person starting `serve`, and the fix."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (another paperbot?); stop that process or pick another --port"
    if exc.errno == errno.EACCES:
        return f"no permission to use port {port}; pick a port above 1023 with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address; check --host"
    return f"{exc.strerror or exc}; check --host and --port"


class _Threads(ThreadedTaskDispatcher):
    """waitress's pool of request threads, named for what they serve."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def start_new_thread(self, target: Callable[[int], object], thread_no: int) -> None:
        threading.Thread(target=target, name=f"{self.name}-{thread_no}", args=(thread_no,), daemon=True).start()


class SplitDispatcher:
    """waitress's task dispatcher in two pools: Events API deliveries (JSON) on one, everything else (commands,
    buttons and views, which Slack sends form-encoded, and /healthz) on another. However many events wait on a
    slow database, a person's command finds an HTTP thread free; its ack needs nothing more (bot.lanes)."""

    def __init__(self, event_threads: int = EVENT_THREADS, people_threads: int = PEOPLE_THREADS) -> None:
        self.events, self.people = _Threads("paperbot-http-events"), _Threads("paperbot-http")
        self.events.set_thread_count(event_threads)
        self.people.set_thread_count(people_threads)

    def set_thread_count(self, count: int) -> None:  # waitress calls this with 0 when it closes
        if count == 0:
            self.events.set_thread_count(0)
            self.people.set_thread_count(0)

    def add_task(self, task: Any) -> None:
        """`task` is waitress's channel, its next request parsed (headers and body) before it is dispatched."""
        requests = getattr(task, "requests", None) or [None]
        headers = getattr(requests[0], "headers", None) or {}
        is_event = str(headers.get("CONTENT_TYPE", "")).lower().startswith("application/json")
        (self.events if is_event else self.people).add_task(task)

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        people = self.people.shutdown(cancel_pending=cancel_pending, timeout=timeout)
        events = self.events.shutdown(cancel_pending=cancel_pending, timeout=timeout)
        return people and events


class HttpServer:
    """A waitress server in the current thread (`run`) or a background thread (`start`, for tests)."""

    def __init__(
        self,
        wsgi: WSGIApp,
        host: str,
        port: int,
        sockets: list[socket.socket] | None = None,
        dispatcher: SplitDispatcher | None = None,
    ) -> None:
        # Waitress answers 413 itself to a body over the cap (chunked ones too) before the app reads a byte.
        where: dict[str, Any] = {"sockets": sockets} if sockets else {"host": host, "port": port}
        self.dispatcher = dispatcher or SplitDispatcher()
        # waitress takes a dispatcher of our own through `_dispatcher` (its test hook; the class it expects has
        # only set_thread_count, add_task and shutdown): the one way to give commands threads events cannot take.
        self.server = create_server(
            wsgi,
            _dispatcher=self.dispatcher,  # type: ignore[arg-type]
            ident="paperbot",
            max_request_body_size=MAX_BODY,
            **where,
        )
        self.host = host
        self.port = int(sockets[0].getsockname()[1] if sockets else self.server.effective_port)  # type: ignore[union-attr]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        log.info("listening on %s (POST /slack/events, GET /healthz, GET /metrics)", self.url)
        self.server.run()

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self.server.run, name="paperbot-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish requests in flight, close every connection and end the loop (its map empties)."""
        self.server.task_dispatcher.shutdown(timeout=5)
        server_map = self.server._map  # type: ignore[union-attr]
        # Close from inside the loop thread (via its trigger) so the loop wakes at once and exits.
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(server_map))  # type: ignore[union-attr]
        if self._thread:
            self._thread.join(timeout=5)


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    """The Socket Mode connection for `app`: `.start()` blocks, `.connect()` returns (tests).

    It asks for its WebSocket URL with apps.connections.open through the app's own client, so SLACK_API_URL
    applies here too."""
    return SocketModeHandler(app, app_token, web_client=app.client)
