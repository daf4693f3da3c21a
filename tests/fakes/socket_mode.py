"""A loopback Socket Mode endpoint: the WebSocket that `apps.connections.open` hands out.

It greets the bot with `hello`, pushes envelopes (slash commands, events, interactivity) as Slack does, and
collects the bot's acknowledgements (`{"envelope_id": ..., "payload": ...}`).
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class FakeSocketMode:
    """Start it, give FakeSlack its `url`, then `send(...)` envelopes and `ack_for(envelope_id)`."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: dict[str, dict[str, Any]] = {}
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self._acked = threading.Condition()
        self._server: Server | None = None
        self.url = ""

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}))
        self.connected.set()
        while not self.stopping.is_set():
            try:
                envelope = self.outbox.get(timeout=0.05)
                connection.send(json.dumps(envelope))
            except queue.Empty:
                pass
            except ConnectionClosed:
                return
            try:
                message = connection.recv(timeout=0.01)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            reply = json.loads(message)
            with self._acked:
                self.acks[reply.get("envelope_id", "")] = reply
                self._acked.notify_all()

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Push one envelope of `kind` (slash_commands, events_api, interactive); returns its envelope id."""
        envelope_id = uuid.uuid4().hex
        self.outbox.put(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    def ack_for(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The bot's acknowledgement of an envelope (it must arrive within `timeout` seconds)."""
        with self._acked:
            if not self._acked.wait_for(lambda: envelope_id in self.acks, timeout=timeout):
                raise AssertionError(f"no acknowledgement of envelope {envelope_id} within {timeout}s")
            return self.acks[envelope_id]

    def start(self) -> FakeSocketMode:
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server:
            self._server.shutdown()
