"""Per-kernel, per-side counts and compute times.

Always kept in-process for :meth:`RustPath.stats` (one process's view). When
``prometheus-client`` is installed (``flask-rustpath[metrics]``) the same events
also feed Prometheus metrics, which aggregate across gunicorn workers in the
client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``).

A kernel call only appends an event to a deque (atomic, no lock). One background
thread per process drains every app's events every :data:`FLUSH_SECONDS` into the
in-process counts and Prometheus; :meth:`Metrics.snapshot` and a scrape of this
process drain first. Prometheus's own bookkeeping (label lookups, histogram buckets,
locks, multiprocess files) so stays off the request path, and so do its failures: a
missing or deleted multiprocess directory, a full disk. Those are handed to
``on_failure`` and the responses go on unchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from typing import Any

from .forksafe import fork_safe_lock

# Compute-time buckets in seconds: Rust answers in microseconds, Python in seconds.
BUCKETS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

SHADOW_OUTCOMES = ("match", "mismatch", "error", "dropped", "timeout", "skipped")

# How stale the counts may be, at most, on a process that is not the one asked.
FLUSH_SECONDS = 0.5

# (kernel, side, compute seconds or None, error code or None)
Event = tuple[str, str, "float | None", "str | None"]


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
        self._lock = fork_safe_lock(self)
        # Kernel calls not yet counted; appended to without a lock on the request path.
        self.events: deque[Event] = deque()
        self._sides: dict[tuple[str, str], _SideStats] = {}
        self._shadow: dict[str, Counter[str]] = {}
        self._fallbacks: Counter[str] = Counter()
        # Events not yet applied to Prometheus: (metric, labels, observed seconds).
        self._pending: list[tuple[str, tuple[str, ...], float | None]] = []
        self._prometheus = find_spec("prometheus_client") is not None
        # Labelled Prometheus children by label values (.labels() validates each time).
        self._children: dict[tuple[str, ...], Any] = {}
        self._children_pid = os.getpid()
        _FLUSHER.watch(self)

    def shadow(self, kernel: str, outcome: str) -> None:
        """One shadow comparison's outcome (one of :data:`SHADOW_OUTCOMES`)."""
        try:
            with self._lock:
                self._shadow.setdefault(kernel, Counter())[outcome] += 1
                if self._prometheus:
                    self._pending.append(("shadow", (kernel, outcome), None))
        except Exception as exc:
            self._failed(exc)

    def fallback(self, kernel: str) -> None:
        """One call that ran on Python because the Rust module does not import."""
        try:
            with self._lock:
                self._fallbacks[kernel] += 1
                if self._prometheus:
                    self._pending.append(("fallback", (kernel,), None))
        except Exception as exc:
            self._failed(exc)

    def flush(self) -> None:
        """Count pending events and apply them to Prometheus now; failures go to
        ``on_failure``."""
        with self._lock:
            self._drain()
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            if self._children_pid != os.getpid():  # a parent's children write its files
                self._children, self._children_pid = {}, os.getpid()
            for metric, labels, seconds in pending:
                if metric == "requests":
                    self._child("requests", *labels).inc()
                    if labels[2] == "ok" and seconds is not None:
                        self._child("seconds", *labels[:2]).observe(seconds)
                else:
                    self._child(metric, *labels).inc()
        except Exception as exc:
            self._failed(exc)

    def _drain(self) -> None:
        """Count the queued events (the lock is held)."""
        events = self.events
        for _ in range(len(events)):
            kernel, side, seconds, error = events.popleft()
            stats = self._sides.get((kernel, side))
            if stats is None:
                stats = self._sides[kernel, side] = _SideStats()
            stats.requests += 1
            if error is not None:
                stats.errors[error] += 1
            elif seconds is not None:
                stats.seconds += seconds
                stats.timed += 1
            if self._prometheus:
                self._pending.append(("requests", (kernel, side, error or "ok"), seconds))

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
        """``{kernel: {"python": {...}, "rust": {...}, "shadow": {...}}}`` for this process."""
        with self._lock:
            self._drain()
            result: dict[str, Any] = {}
            for (kernel, side), s in self._sides.items():
                result.setdefault(kernel, {})[side] = {
                    "requests": s.requests,
                    "errors": dict(s.errors),
                    "mean_ms": s.seconds / s.timed * 1000 if s.timed else None,
                }
            for kernel, outcomes in self._shadow.items():
                result.setdefault(kernel, {})["shadow"] = {o: outcomes[o] for o in SHADOW_OUTCOMES}
            for kernel, count in self._fallbacks.items():
                result.setdefault(kernel, {})["fallbacks"] = count
            return result


class _Flusher:
    """One daemon thread per process flushing every live :class:`Metrics`.

    Started when the first app is set up in a process, and again in a forked child
    (gunicorn's workers), where the parent's thread does not exist.
    """

    def __init__(self) -> None:
        self._metrics: weakref.WeakSet[Metrics] = weakref.WeakSet()
        self._lock = fork_safe_lock(self)
        self._pid: int | None = None
        os.register_at_fork(after_in_child=self._forked)

    def watch(self, metrics: Metrics) -> None:
        with self._lock:
            self._metrics.add(metrics)
            if self._pid != os.getpid():
                self._start()

    def _forked(self) -> None:
        if self._pid is not None:
            self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        threading.Thread(target=self._run, name="rustpath-metrics", daemon=True).start()

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(FLUSH_SECONDS)
            self.flush_all()

    def flush_all(self) -> None:
        # Copied under the lock: an app set up meanwhile (watch) would change the set
        # while list() iterates it, and the flushing thread would die.
        with self._lock:
            watched = list(self._metrics)
        for metrics in watched:
            metrics.flush()


_FLUSHER = _Flusher()


def flush_all() -> None:
    """Write every app's queued events in this process now, rather than within
    :data:`FLUSH_SECONDS`: before a worker exits, so its last counts are not lost."""
    _FLUSHER.flush_all()


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
            ["kernel", "side", "outcome"],
        ),
        "seconds": Histogram(
            "rustpath_compute_seconds",
            "Compute time of successful kernel calls, implementation call only",
            ["kernel", "side"],
            buckets=BUCKETS,
        ),
        "shadow": PromCounter(
            "rustpath_shadow",
            "Shadow comparisons of Python against Rust by outcome",
            ["kernel", "outcome"],
        ),
        "fallback": PromCounter(
            "rustpath_fallback",
            "Kernel calls run on Python because the Rust module does not import",
            ["kernel"],
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


@dataclass(frozen=True)
class Counts:
    """Counts for the dashboard, in :meth:`Metrics.snapshot`'s shape, and whose they are."""

    by_kernel: dict[str, Any]
    all_workers: bool  # from every worker's multiprocess files, not this process alone
    processes: int  # how many processes wrote them (1 for this process's own)


def all_workers_counts(metrics: Metrics) -> Counts:
    """Every worker's counts when Prometheus's multiprocess mode is on
    (``PROMETHEUS_MULTIPROC_DIR``), else this process's own (``metrics.snapshot()``).

    Under gunicorn a page is answered by one worker of several: its own counts are a
    fraction of the traffic, and a different fraction on each load. The multiprocess
    files hold every worker's, dead ones included, as the metrics endpoint reports
    them. This process's events are written first; another worker's lag by up to
    :data:`FLUSH_SECONDS`. A directory that cannot be read falls back to this
    process's counts, as a failing metrics directory never changes a response.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and _prometheus() is not None:
        metrics.flush()
        with contextlib.suppress(Exception):
            return _multiprocess_counts(directory)
    return Counts(metrics.snapshot(), all_workers=False, processes=1)


def _multiprocess_counts(directory: str) -> Counts:
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    result: dict[str, Any] = {}
    seconds: dict[tuple[str, str], list[float]] = {}

    def side_stats(kernel: str, side: str) -> dict[str, Any]:
        stats: dict[str, Any] = result.setdefault(kernel, {}).setdefault(
            side, {"requests": 0, "errors": {}, "mean_ms": None}
        )
        return stats

    for family in registry.collect():
        for sample in family.samples:
            labels, value = sample.labels, int(sample.value)
            if sample.name == "rustpath_requests_total":
                stats = side_stats(labels["kernel"], labels["side"])
                stats["requests"] += value
                if labels["outcome"] != "ok" and value:
                    errors = stats["errors"]
                    errors[labels["outcome"]] = errors.get(labels["outcome"], 0) + value
            elif sample.name in ("rustpath_compute_seconds_sum", "rustpath_compute_seconds_count"):
                timed = seconds.setdefault((labels["kernel"], labels["side"]), [0.0, 0.0])
                timed[sample.name.endswith("_count")] += sample.value
            elif sample.name == "rustpath_shadow_total":
                shadow = result.setdefault(labels["kernel"], {}).setdefault(
                    "shadow", dict.fromkeys(SHADOW_OUTCOMES, 0)
                )
                shadow[labels["outcome"]] = shadow.get(labels["outcome"], 0) + value
            elif sample.name == "rustpath_fallback_total":
                kernel = result.setdefault(labels["kernel"], {})
                kernel["fallbacks"] = kernel.get("fallbacks", 0) + value
    for (kernel, side), (total, count) in seconds.items():
        if count:
            side_stats(kernel, side)["mean_ms"] = total / count * 1000
    writers = {
        name.rsplit("_", 1)[-1]
        for name in os.listdir(directory)
        if name.startswith(("counter_", "histogram_")) and name.endswith(".db")
    }
    return Counts(result, all_workers=True, processes=len(writers))
