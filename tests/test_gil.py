"""The Rust kernel releases the GIL: Python runs while a single Rust call is in progress.

No clocks. One worker thread makes a single call through C code only::

    finished.extend(map(call, pending))  # pending = iter([argument])

``map`` takes the argument from ``pending``, calls ``call`` and ``extend`` appends the
result, all in C, with no Python bytecode between them and so no point where the
worker could hand the GIL over. "``pending`` is consumed and ``finished`` is still
empty" therefore means exactly "the worker is inside ``call``". The main thread can only
look while it holds the GIL, so each time it sees that state and counts it, Python made
progress while the call was running. A call that held the GIL from start to end would
let it count nothing, however loaded the machine: the negative control below shows the
probe counts nothing for such a call.
"""

from __future__ import annotations

import functools
import gc
import operator
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flask_rustpath import _native

# Big enough that the call lasts a good many scheduler slices (about half a second of CPU);
# the proof does not depend on it, only how often a look lands inside the call.
RUST_N = 2_000_000_000
ATTEMPTS = 3


@pytest.fixture(autouse=True)
def _no_collector_in_the_window() -> Iterator[None]:
    """Keep the cyclic collector from running Python finalizers inside the C window."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def progress_during_call(call: Callable[[Any], object], argument: object) -> tuple[int, object]:
    """Count the steps the main thread's Python makes while ``call(argument)`` runs in a
    worker thread, and return them with the call's result."""
    pending = iter([argument])
    finished: list[object] = []
    worker = threading.Thread(target=lambda: finished.extend(map(call, pending)))
    steps = 0
    worker.start()
    while not finished:
        # Consumed first, then still unfinished: the worker was inside the call when
        # the first was read, while this thread held the GIL to read it.
        if operator.length_hint(pending) == 0 and not finished:
            steps += 1
        time.sleep(0)
    worker.join()
    return steps, finished[0]


def test_python_makes_progress_while_one_rust_call_runs() -> None:
    # threads=1 runs the kernel on the calling thread, not on its pool: the call that
    # is in progress is exactly the worker's call.
    rust = functools.partial(_native.sum_of_primes, threads=1, method="sieve")
    steps = 0
    for _ in range(ATTEMPTS):  # a look can only miss the window by being starved for all of it
        steps, _result = progress_during_call(rust, RUST_N)
        if steps:
            break
    assert steps > 0, "the main thread never ran while the Rust call was in progress"


def test_probe_counts_nothing_while_a_call_holds_the_gil() -> None:
    # The negative control: sum() over a range runs in C and never lets go of the GIL,
    # so the main thread cannot look while it runs. (The Python reference is no such
    # control: pure Python hands the GIL over every switch interval.)
    steps, result = progress_during_call(sum, range(10_000_000))
    assert result == 10_000_000 * (10_000_000 - 1) // 2
    assert steps == 0
