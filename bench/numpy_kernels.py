"""A NumPy reference kernel: what a Python developer would reach for before Rust.

Optional: importing this module requires NumPy (``pip install flask-rustpath[bench]``).
"""

from __future__ import annotations

from math import isqrt

import numpy as np

from flask_rustpath.kernels import primes_below

# Odd numbers per segment: 2^22 bytes of flags, small enough to stay in L2/L3.
SEGMENT = 1 << 22


def sum_of_primes_numpy(n: int) -> int:
    """Sum of the primes below ``n`` by a segmented odd-only NumPy sieve, O(√n) extra memory."""
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")  # as the Rust kernel refuses it
    if n <= 2:
        return 0
    half = n // 2  # index i stands for 2i + 1
    base = np.array(primes_below(isqrt(n - 1) + 1)[1:], dtype=np.int64)  # odd base primes
    first = base * base // 2  # index of p², the first multiple left to cross off
    total = 2
    flags = np.empty(SEGMENT, dtype=np.bool_)
    for lo in range(0, half, SEGMENT):
        hi = min(lo + SEGMENT, half)
        segment = flags[: hi - lo]
        segment[:] = True
        if lo == 0:
            segment[0] = False  # 1 is not prime
        for p, start in zip(base.tolist(), first.tolist(), strict=True):
            if start >= hi:
                break
            # first index >= lo congruent to (p - 1) / 2 mod p, and not below p²
            offset = max(start, lo + (start - lo) % p) - lo
            segment[offset::p] = False
        indices = np.flatnonzero(segment)
        total += int(indices.sum(dtype=np.uint64)) * 2 + 2 * lo * len(indices) + len(indices)
    return total
