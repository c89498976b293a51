"""Time the sum-of-primes kernels in-process: Rust, NumPy and the pure-Python sieve.

One untimed warm-up call (imports, page faults, the Rust pool's first start), then
several timed calls; the report quotes the median, and keeps every time in the JSON.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

from .plan import KernelImpl

Kernel = Callable[[int], int]
IMPORT_RETRIES = 20


def import_with_retry(module: str) -> Any:
    """Import ``module``, retrying for a while: the native module may be mid-rebuild."""
    for attempt in range(IMPORT_RETRIES):
        try:
            return importlib.import_module(module)
        except ImportError:
            if attempt == IMPORT_RETRIES - 1:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def in_process_kernel(impl: KernelImpl) -> Kernel:
    """The callable that computes the sum of primes below ``n`` for ``impl``."""
    if impl.impl in ("rust", "rust-sublinear"):
        native = import_with_retry("flask_rustpath._native")
        threads = impl.threads
        method = "sieve" if impl.impl == "rust" else "sublinear"
        return lambda n: native.sum_of_primes(n, threads=threads, method=method)
    if impl.impl == "numpy":
        return import_with_retry("bench.numpy_kernels").sum_of_primes_numpy
    if impl.impl == "python-sieve":
        return import_with_retry("flask_rustpath.kernels").sum_of_primes_sieve
    raise ValueError(f"not an in-process kernel: {impl.impl}")


def repeats_for(estimate_s: float, *, max_repeats: int, budget_s: float) -> int:
    """As many timed calls as fit the budget, but never fewer than 3 (a median needs them)."""
    if estimate_s <= 0:
        return max_repeats
    return max(3, min(max_repeats, int(budget_s / estimate_s)))


def time_kernel(
    kernel: Kernel, n: int, *, max_repeats: int, budget_s: float
) -> tuple[int, list[float]]:
    """Warm up once, then time ``kernel(n)`` repeatedly; returns its answer and the times."""
    start = time.perf_counter()
    answer = kernel(n)
    warm = time.perf_counter() - start
    seconds = []
    for _ in range(repeats_for(warm, max_repeats=max_repeats, budget_s=budget_s)):
        start = time.perf_counter()
        again = kernel(n)
        seconds.append(time.perf_counter() - start)
        if again != answer:
            raise RuntimeError(f"kernel answered {answer} then {again} for n={n}")
    return answer, seconds


def summarize(seconds: list[float]) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "repeats": len(seconds),
    }


def estimate_next(
    previous: tuple[int, float] | None, n: int, scaling: float = 1.0
) -> float | None:
    """Extrapolate a call's time at ``n`` from the last measured (n, seconds) as n**scaling.

    The sieves are O(n log log n), so linear scaling slightly underestimates; the 1.2
    factor covers that and the noise of a shared machine.
    """
    if previous is None:
        return None
    prev_n, prev_s = previous
    return prev_s * (n / max(prev_n, 1)) ** scaling * 1.2
