"""Database outages on demand: a TCP proxy in front of PostgreSQL that can refuse, and a lock on a SQLite file.

`PgOutage` sits between the bot and PostgreSQL on a loopback port (give the bot `proxied_url(url, port)`).
`refuse()` resets every proxied connection and stops listening, so new connections get ECONNREFUSED, as when
the server or its host is down; `restore()` listens on the same port again and proxies as before.

`SqliteOutage` holds `BEGIN EXCLUSIVE` on the database file from a connection of its own: every writer (and
every transaction of the bot, which begins IMMEDIATE) waits on SQLite's busy timeout and then fails with
"database is locked" until `unlock()`.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import struct
import threading
from pathlib import Path
from typing import Self

from sqlalchemy.engine import make_url

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


def proxied_url(url: str, port: int, host: str = "127.0.0.1") -> str:
    """`url` (a PostgreSQL URL) pointed at the proxy: `proxied_url("postgresql+psycopg://u@db:5432/x", 6000)`
    is `"postgresql+psycopg://u@127.0.0.1:6000/x"`; user, password, database and query stay."""
    return make_url(url).set(host=host, port=port).render_as_string(hide_password=False)


def _reset(sock: socket.socket) -> None:
    """Close `sock` abruptly (RST), waking any thread blocked in recv on it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class PgOutage:
    """A threaded TCP proxy to `target_host:target_port` that can refuse connections for a while."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.refusing = False
        self.connections = 0  # proxied connections accepted so far
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> int:
        """Start listening on a free loopback port; returns it."""
        self._listen()
        return self.port

    def url(self, target_url: str) -> str:
        """`target_url` rewritten to go through this proxy (see `proxied_url`)."""
        return proxied_url(target_url, self.port)

    def refuse(self) -> None:
        """Drop every proxied connection (RST) and refuse new ones until `restore()`."""
        with self._lock:
            self.refusing = True
            listener, self._listener = self._listener, None
            victims, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):  # on Linux: stops listening at once, even mid-poll of accept
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in victims:
            _reset(sock)

    def restore(self) -> None:
        """Accept and proxy connections again, on the same port."""
        with self._lock:
            self.refusing = False
        self._listen()

    def stop(self) -> None:
        """Close the listener and every proxied connection."""
        self.refuse()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.05)  # the accept loop notices refuse() within 50 ms
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="pg-outage-accept", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=self._connect, args=(client,), name="pg-outage-conn", daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self.refusing:
                admitted = False
            else:
                admitted = True
                self._open.update((client, upstream))
                self.connections += 1
        if not admitted:
            _reset(client)
            _reset(upstream)
            return
        threading.Thread(target=self._pump, args=(upstream, client), name="pg-outage-pump", daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy bytes one way until either side closes; then close both."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            mine = source in self._open or sink in self._open
            self._open.difference_update((source, sink))
        if mine:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


class SqliteOutage:
    """Holds an exclusive lock on the SQLite database at `path`, so its writers wait and then fail."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def for_url(cls, url: str) -> SqliteOutage:
        """The outage of the database file a `sqlite:///…` URL names."""
        database = make_url(url).database
        if not database or database == ":memory:":
            raise ValueError(f"{url!r} names no SQLite file")
        return cls(database)

    @property
    def locked(self) -> bool:
        return self._conn is not None

    def lock(self) -> None:
        """Take the write lock (BEGIN EXCLUSIVE; waits up to 30 s for a writer already in)."""
        if self._conn is not None:
            return
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        self._conn = conn

    def unlock(self) -> None:
        """Release the lock: waiting writers go on."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.execute("ROLLBACK")
            conn.close()

    def __enter__(self) -> Self:
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()
