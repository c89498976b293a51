"""Pure-Python reference kernels.

These are what the Rust kernels are checked against, and what a hot route's Python
side can call. They favour being obviously right over being fast.
"""

from __future__ import annotations

from itertools import compress
from math import isqrt


def is_prime(n: int) -> bool:
    """Trial division, as in the blog post that motivated this project."""
    return n >= 2 and not any(n % i == 0 for i in range(2, isqrt(n) + 1))


def sum_of_primes_naive(n: int) -> int:
    """Sum of the primes below ``n`` by trial division: O(n·√n), the slow original."""
    _refuse_negative(n)
    return sum(i for i in range(2, n) if is_prime(i))


def odd_prime_flags(n: int) -> bytearray:
    """Sieve of Eratosthenes over the odd numbers below ``n``: flag ``i`` is set when ``2i + 1``
    is prime.

    O(n) memory; a reference, not the production kernel.
    """
    half = n // 2  # odd numbers 1, 3, …, below n
    flags = bytearray([1]) * half
    if half:
        flags[0] = 0  # 1 is not prime
    for i in range(1, (isqrt(max(n - 1, 0)) + 1) // 2):
        if flags[i]:
            p = 2 * i + 1
            start = p * p // 2
            flags[start::p] = bytes(len(range(start, half, p)))
    return flags


def primes_below(n: int) -> list[int]:
    """All primes below ``n``, in order, from :func:`odd_prime_flags`."""
    if n <= 2:
        return []
    return [2, *compress(range(1, n, 2), odd_prime_flags(n))]


def sum_of_primes_sieve(n: int) -> int:
    """Sum of the primes below ``n`` by a pure-Python sieve."""
    _refuse_negative(n)
    return sum(primes_below(n))


def _refuse_negative(n: int) -> None:
    """Refuse a negative ``n`` as the Rust kernel does, so both sides agree on it."""
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
