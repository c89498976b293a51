"""Per-kernel, per-side counts and compute times.

Always kept in-process for :meth:`RustPath.stats` (one process's view). When
``prometheus-client`` is installed (``flask-rustpath[metrics]``) the same events
also feed Prometheus metrics, which aggregate across gunicorn workers in the
client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``).

A request only appends its event to a list; a background thread in each process
applies the events to Prometheus every :data:`FLUSH_SECONDS` (and a scrape of this
process flushes first). Prometheus's own bookkeeping (label lookups, histogram
buckets, locks, multiprocess files) so stays off the request path, and so do its
failures: a missing or deleted multiprocess directory, a full disk. Those are
handed to ``on_failure`` and the responses go on unchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from typing import Any

# Compute-time buckets in seconds: Rust answers in microseconds, Python in seconds.
BUCKETS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

SHADOW_OUTCOMES = ("match", "mismatch", "error", "dropped", "timeout", "skipped")

# How stale Prometheus may be, at most, on a worker that is not the one scraped.
FLUSH_SECONDS = 0.5


@dataclass
class _SideStats:
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # total compute time of successful calls
    timed: int = 0


class Metrics:
    """Thread-safe event sink for one app."""

    def __init__(self, on_failure: Callable[[BaseException], None] | None = None) -> None:
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._sides: dict[tuple[str, str], _SideStats] = {}
        self._shadow: dict[str, Counter[str]] = {}
        self._fallbacks: Counter[str] = Counter()
        # Events not yet applied to Prometheus: (metric, labels, observed seconds).
        self._pending: list[tuple[str, tuple[str, ...], float | None]] = []
        self._prometheus = find_spec("prometheus_client") is not None
        self._flusher_pid: int | None = None
        # Labelled Prometheus children by label values (.labels() validates each time).
        self._children: dict[tuple[str, ...], Any] = {}

    def request(self, route: str, backend: str, seconds: float | None, error: str | None) -> None:
        """One call run by ``backend``: its compute time, or the error code it got."""
        try:
            with self._lock:
                stats = self._sides.get((route, backend))
                if stats is None:
                    stats = self._sides[route, backend] = _SideStats()
                stats.requests += 1
                if error is not None:
                    stats.errors[error] += 1
                elif seconds is not None:
                    stats.seconds += seconds
                    stats.timed += 1
                if self._prometheus:
                    self._pending.append(("requests", (route, backend, error or "ok"), seconds))
            if self._prometheus and self._flusher_pid != os.getpid():
                self._start_flusher()
        except Exception as exc:
            self._failed(exc)

    def shadow(self, route: str, outcome: str) -> None:
        """One shadow comparison's outcome (one of :data:`SHADOW_OUTCOMES`)."""
        self._count(self._shadow, "shadow", route, outcome)

    def fallback(self, route: str) -> None:
        """One call that ran on Python because the Rust module does not import."""
        try:
            with self._lock:
                self._fallbacks[route] += 1
                if self._prometheus:
                    self._pending.append(("fallback", (route,), None))
            if self._prometheus and self._flusher_pid != os.getpid():
                self._start_flusher()
        except Exception as exc:
            self._failed(exc)

    def _count(
        self, table: dict[str, Counter[str]], metric: str, route: str, outcome: str
    ) -> None:
        try:
            with self._lock:
                table.setdefault(route, Counter())[outcome] += 1
                if self._prometheus:
                    self._pending.append((metric, (route, outcome), None))
            if self._prometheus and self._flusher_pid != os.getpid():
                self._start_flusher()
        except Exception as exc:
            self._failed(exc)

    def flush(self) -> None:
        """Apply pending events to Prometheus now; failures go to ``on_failure``."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            for metric, labels, seconds in pending:
                if metric == "requests":
                    self._child("requests", *labels).inc()
                    if labels[2] == "ok" and seconds is not None:
                        self._child("seconds", *labels[:2]).observe(seconds)
                else:
                    self._child(metric, *labels).inc()
        except Exception as exc:
            self._failed(exc)

    def _start_flusher(self) -> None:
        """One flusher thread per process: a forked worker starts its own."""
        with self._lock:
            pid = os.getpid()
            if self._flusher_pid == pid:
                return
            self._flusher_pid = pid
            self._children = {}  # a parent's children belong to the parent's files

        def flush_forever() -> None:
            while True:
                time.sleep(FLUSH_SECONDS)
                self.flush()

        threading.Thread(target=flush_forever, name="rustpath-metrics", daemon=True).start()

    def _failed(self, exc: BaseException) -> None:
        if self._on_failure is not None:
            with contextlib.suppress(Exception):
                self._on_failure(exc)

    def _child(self, metric: str, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            prometheus = _prometheus()
            assert prometheus is not None
            child = self._children.setdefault(key, prometheus[metric].labels(*labels))
        return child

    def snapshot(self) -> dict[str, Any]:
        """``{route: {"python": {...}, "rust": {...}, "shadow": {...}}}`` for this process."""
        with self._lock:
            result: dict[str, Any] = {}
            for (route, backend), s in self._sides.items():
                result.setdefault(route, {})[backend] = {
                    "requests": s.requests,
                    "errors": dict(s.errors),
                    "mean_ms": s.seconds / s.timed * 1000 if s.timed else None,
                }
            for route, outcomes in self._shadow.items():
                result.setdefault(route, {})["shadow"] = {o: outcomes[o] for o in SHADOW_OUTCOMES}
            for route, count in self._fallbacks.items():
                result.setdefault(route, {})["fallbacks"] = count
            return result


@cache
def _prometheus() -> dict[str, Any] | None:
    """The process-wide Prometheus metrics, created once; ``None`` without the client."""
    try:
        from prometheus_client import Counter as PromCounter
        from prometheus_client import Histogram
    except ImportError:
        return None
    return {
        "requests": PromCounter(
            "rustpath_requests",
            "Kernel calls by kernel, side that ran, and outcome (ok or error code)",
            ["route", "backend", "outcome"],
        ),
        "seconds": Histogram(
            "rustpath_compute_seconds",
            "Compute time of successful kernel calls, implementation call only",
            ["route", "backend"],
            buckets=BUCKETS,
        ),
        "shadow": PromCounter(
            "rustpath_shadow",
            "Shadow comparisons of Python against Rust by outcome",
            ["route", "outcome"],
        ),
        "fallback": PromCounter(
            "rustpath_fallback",
            "Kernel calls run on Python because the Rust module does not import",
            ["route"],
        ),
    }


def prometheus_available() -> bool:
    return _prometheus() is not None


def render_prometheus() -> tuple[bytes, str]:
    """The exposition text and its content type, aggregated across processes when the
    client's multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR`` set)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
