"""Peak extra memory of one ``_native.sum_of_primes(n)`` call, measured in a child process.

The sieve claims O(√n) memory, so its peak RSS should barely move even at n = 1e11. A
fresh child keeps the harness's own allocations (NumPy, matplotlib, hey output) out of
the number. The child resets the kernel's RSS high-water mark through
``/proc/self/clear_refs`` after a warm-up call, so the reported peak belongs to the big
call alone; the warm-up's own growth (starting the thread pool) is reported separately.

Run as ``python -m bench.memory N`` to print the child's JSON.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .kernels import import_with_retry
from .server import REPO_ROOT

WARMUP_N = 10**6


def _status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status, in KiB (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    """Make VmHWM equal the current RSS (Linux ≥ 4.0); False if not allowed here."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def measure_here(n: int, method: str = "sieve") -> dict[str, Any]:
    """In this process: baseline RSS, warm-up growth, and the peak of the call at ``n``."""
    native = import_with_retry("flask_rustpath._native")
    imported = _status_kib("VmRSS") or _peak_kib()
    native.sum_of_primes(WARMUP_N)  # starts the process pool once
    warmed_peak = _peak_kib()
    reset = _reset_high_water_mark()
    baseline = (_status_kib("VmRSS") if reset else None) or _peak_kib()
    start = time.perf_counter()
    answer = native.sum_of_primes(n, method=method)
    seconds = time.perf_counter() - start
    peak = _peak_kib()
    return {
        "n": n,
        "kernel_method": method,
        "threads": native.default_threads(),
        "sum": str(answer),
        "seconds": seconds,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "extra_mib": (peak - baseline) / 1024,
        "warmup_extra_mib": max(0, warmed_peak - imported) / 1024,
        "method": (
            "VmHWM after the call minus VmRSS before it, high-water mark reset via "
            "/proc/self/clear_refs after a warm-up call"
            if reset
            else "VmHWM (or ru_maxrss) after the call minus before it; could not reset the "
            "high-water mark, so the baseline includes earlier peaks"
        ),
    }


def measure(n: int, *, timeout_s: float, method: str = "sieve") -> dict[str, Any]:
    """Run :func:`measure_here` in a fresh interpreter and return its result."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(n), method],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe exited with {done.returncode}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(measure_here(int(sys.argv[1]), *sys.argv[2:3])))
