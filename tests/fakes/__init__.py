"""Loopback fakes of the services paperbot talks to (Slack, Hugging Face, arXiv), and what they share."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps test output quiet and answers with one call."""

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        """Send a complete response; a client that already gave up (timed out) is not an error."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def serve_in_background(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded server on a free loopback port; a short poll interval keeps `stop_server` (teardown) quick."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


def stop_server(server: ThreadingHTTPServer | None) -> None:
    """Stop and close a server started by `serve_in_background`."""
    if server is not None:
        server.shutdown()
        server.server_close()
