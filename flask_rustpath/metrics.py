"""Per-route, per-backend counts and compute times.

Always kept in-process for :meth:`RustPath.stats` (one process's view). When
``prometheus-client`` is installed (``flask-rustpath[metrics]``) the same events
also feed Prometheus metrics, which aggregate across gunicorn workers in the
client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# Compute-time buckets in seconds: Rust answers in microseconds, Python in seconds.
BUCKETS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

SHADOW_OUTCOMES = ("match", "mismatch", "error", "dropped", "timeout", "skipped")


@dataclass
class _SideStats:
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # total compute time of successful calls
    timed: int = 0


class Metrics:
    """Thread-safe event sink for one app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sides: dict[tuple[str, str], _SideStats] = defaultdict(_SideStats)
        self._shadow: dict[str, Counter[str]] = defaultdict(Counter)
        # Labelled Prometheus children by label values: .labels() on every request
        # costs a lock and validation, more than the rest of the bookkeeping.
        self._children: dict[tuple[str, ...], Any] = {}

    def request(self, route: str, backend: str, seconds: float | None, error: str | None) -> None:
        """One request answered by ``backend``: its compute time, or the error code it got."""
        with self._lock:
            stats = self._sides[route, backend]
            stats.requests += 1
            if error is not None:
                stats.errors[error] += 1
            elif seconds is not None:
                stats.seconds += seconds
                stats.timed += 1
        if _prometheus() is not None:
            self._child("requests", route, backend, error or "ok").inc()
            if error is None and seconds is not None:
                self._child("seconds", route, backend).observe(seconds)

    def shadow(self, route: str, outcome: str) -> None:
        """One shadow comparison's outcome (one of :data:`SHADOW_OUTCOMES`)."""
        with self._lock:
            self._shadow[route][outcome] += 1
        if _prometheus() is not None:
            self._child("shadow", route, outcome).inc()

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
            "Hot-route requests by route, backend that answered, and outcome (ok or error code)",
            ["route", "backend", "outcome"],
        ),
        "seconds": Histogram(
            "rustpath_compute_seconds",
            "Compute time of successful hot-route calls, implementation call only",
            ["route", "backend"],
            buckets=BUCKETS,
        ),
        "shadow": PromCounter(
            "rustpath_shadow",
            "Shadow comparisons of Python against Rust by outcome",
            ["route", "outcome"],
        ),
    }


def prometheus_available() -> bool:
    return _prometheus() is not None


def render_prometheus() -> tuple[bytes, str]:
    """The exposition text and its content type, aggregated across processes when the
    client's multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR`` set)."""
    import os

    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
