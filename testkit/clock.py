"""A clock moved by hand, shared by the functions' runtime (keyless.aws.runtime.reset(clock=...)),
the local user pool and the test or benchmark driving them: time passes only when told to, so a send
limit, a code's expiry or a key's cache runs out exactly when a test says, on any machine."""

from __future__ import annotations

import threading

START = 1_800_000_000.0  # 2027-01-15: fixed, so runs repeat; far from the epoch, as real time is


class Clock:
    """Time moved by hand; shared by the triggers and the local pool (and threads: advancing is atomic)."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
