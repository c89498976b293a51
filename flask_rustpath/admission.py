"""Admission: a bounded number of concurrent kernel calls per side, per worker.

A gunicorn worker has a few threads. Without a bound, a handful of anonymous clients
asking for the largest input pin every one of them, and ``/healthz`` and every other
page wait behind. A :class:`Gate` never queues: a call that finds every slot taken is
refused at once (the caller answers 503 with ``Retry-After``), so a busy kernel costs
its clients a retry, never the rest of the app its threads.
"""

from __future__ import annotations

import threading


class Gate:
    """At most ``limit`` holders at once; :meth:`try_enter` never blocks."""

    __slots__ = ("_held", "_lock", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a gate needs at least one slot, got {limit}")
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self._held >= self.limit:
                return False
            self._held += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._held -= 1

    @property
    def held(self) -> int:
        return self._held
