"""The Rust kernel releases the GIL: two Python threads calling it run in parallel.

Compares two runs of the same code in one process (sequential vs. two threads), so
machine speed cancels out. The Python reference is the control: it holds the GIL.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest

from flask_rustpath import _native
from flask_rustpath.kernels import sum_of_primes_sieve

pytestmark = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="needs two CPU cores to show overlap"
)


def sequential_and_concurrent(work: Callable[[], object]) -> tuple[float, float]:
    """Best-of-5 wall times of two calls made one after the other, and in two threads."""
    sequential, concurrent = [], []
    for _ in range(5):
        started = time.perf_counter()
        work()
        work()
        sequential.append(time.perf_counter() - started)

        threads = [threading.Thread(target=work) for _ in range(2)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent.append(time.perf_counter() - started)
    return min(sequential), min(concurrent)


def test_rust_calls_overlap() -> None:
    # threads=1 keeps each call on its own Python thread, so any overlap comes from
    # the released GIL and not from the kernel's own thread pool.
    sequential, concurrent = sequential_and_concurrent(
        lambda: _native.sum_of_primes(1_000_000_000, threads=1, method="sieve")
    )
    assert concurrent < 0.75 * sequential, (sequential, concurrent)


def test_python_reference_does_not_overlap() -> None:
    sequential, concurrent = sequential_and_concurrent(lambda: sum_of_primes_sieve(3_000_000))
    assert concurrent > 0.85 * sequential, (sequential, concurrent)
