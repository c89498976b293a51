"""Log lines that cannot flood: one line per kind per interval, the rest counted.

A shadow mismatch on every request, or a missing Rust module on every call, would
otherwise write a line per request. Here each kind of line is written at most once
per interval; the next line written says how many were held back. Every line names
the worker's pid, since gunicorn interleaves its workers' logs.
"""

from __future__ import annotations

import logging
import os
import time

from .forksafe import fork_safe_lock

log = logging.getLogger("flask_rustpath")


class LimitedLog:
    """Writes ``warning`` lines of one kind at most once per ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = fork_safe_lock(self)
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless a ``kind`` line was logged within the interval;
        whether it was logged. Never raises: logging must not change a response."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            self._last[kind] = now
            held = self._held.pop(kind, 0)
        try:
            suffix = f" ({held} more like this since the last one)" if held else ""
            log.warning("[pid %d] " + message + suffix, os.getpid(), *args)
        except Exception:  # a broken handler must not fail the request that logged
            return False
        return True
