"""The bot's side of bench/fault_bench.py: `paperbot serve --http` as a process to kill and restart, and its
database to take away (tests/fakes/outage.py)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.fakes.outage import PgOutage, SqliteOutage


class BotProcess:
    """`paperbot serve --http` on a fixed loopback port, killed and restarted at will."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env, self.cwd, self.log = env, cwd, cwd / "paperbot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()
        self.failed_starts = 0  # starts that ended in an exit before the bot answered

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        """Start it and wait until its HTTP server answers; like a supervisor (systemd, Kubernetes), start it
        again a second after it exits (e.g. it cannot reach its database), until `timeout`."""
        deadline = time.monotonic() + timeout
        while not self._started(deadline):
            self.failed_starts += 1
            time.sleep(1.0)
        self.up.set()

    def _started(self, deadline: float) -> bool:
        script = str(Path(sys.executable).parent / "paperbot")
        args = [script, "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                httpx.get(self.url + "/healthz", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            return True
        tail = "".join(self.log.read_text(errors="replace").splitlines(keepends=True)[-20:])
        raise TimeoutError(f"paperbot did not answer in time; its log ends:\n{tail}")

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory kill or a lost host."""
        self.up.clear()
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 30.0) -> float | None:
        """SIGTERM; the seconds it took to exit, None when it had to be killed after `timeout`."""
        self.up.clear()
        if self.process is None or self.process.poll() is not None:
            return 0.0
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        return time.monotonic() - began


class DatabaseOutage:
    """The database going away and coming back: PostgreSQL behind a proxy that refuses, or a locked SQLite file;
    `bot_url` is the DATABASE_URL the bot gets (through the proxy)."""

    def __init__(self, backend: str, url: str) -> None:
        self.proxy: PgOutage | None = None
        self.lock: SqliteOutage | None = None
        if backend == "postgresql":
            parsed = make_url(url)
            self.proxy = PgOutage(parsed.host or "127.0.0.1", parsed.port or 5432)
            self.proxy.start()
            self.bot_url = self.proxy.url(url)
        else:
            self.lock, self.bot_url = SqliteOutage.for_url(url), url

    def down(self) -> None:
        self.proxy.refuse() if self.proxy else self.lock.lock()  # type: ignore[union-attr]

    def up(self) -> None:
        self.proxy.restore() if self.proxy else self.lock.unlock()  # type: ignore[union-attr]

    def close(self) -> None:
        self.proxy.stop() if self.proxy else self.lock.unlock()  # type: ignore[union-attr]
