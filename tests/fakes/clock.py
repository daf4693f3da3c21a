"""A monotonic clock that moves only when someone sleeps on it: for code that paces or backs off, so a test checks
the waits it asked for without waiting them."""

from __future__ import annotations

import threading


class FakeClock:
    """`clock()` reads it, `clock.sleep(s)` records `s` and moves it on; a test may move `now` itself. Safe across
    threads."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(round(seconds, 6))
            self.now += seconds
