"""Independent references for checking prime sums, kept out of the package under test."""

from __future__ import annotations

from math import isqrt


def lucy_prime_sum(n: int) -> int:
    """Sum of the primes below ``n`` by Lucy Hedgehog's method, in O(n^¾) without a sieve.

    For each v of the form (n-1)//k it tracks S(v) = sum of the integers in [2, v]
    not yet struck out, and strikes out the multiples of each prime p in turn.
    """
    if n < 3:
        return 0
    m = n - 1
    r = isqrt(m)
    large = [0] * (r + 1)  # large[k] = S(m // k)
    small = [0] * (r + 1)  # small[v] = S(v)
    for k in range(1, r + 1):
        v = m // k
        large[k] = v * (v + 1) // 2 - 1
    for v in range(1, r + 1):
        small[v] = v * (v + 1) // 2 - 1
    for p in range(2, r + 1):
        if small[p] == small[p - 1]:
            continue  # p is composite
        below = small[p - 1]
        p2 = p * p
        kmax = min(r, m // p2)
        for k in range(1, kmax + 1):
            kp = k * p
            inner = large[kp] if kp <= r else small[m // kp]
            large[k] -= p * (inner - below)
        for v in range(r, p2 - 1, -1):
            small[v] -= p * (small[v // p] - below)
    return large[1]


def window_prime_sum(lo: int, hi: int) -> int:
    """Sum of the primes in ``[lo, hi)`` by a segmented sieve of that window alone.

    Needs the primes up to ``√hi`` (an odd-only bytearray sieve) and nothing below ``lo``,
    so it reaches windows near 10^16 that no prefix method in pure Python can.
    """
    lo = max(lo, 2)
    if hi <= lo:
        return 0
    root = isqrt(hi - 1)
    odd = bytearray([1]) * (root // 2 + 1)  # odd[i] stands for 2i + 1
    odd[0] = 0
    for i in range(1, (isqrt(root) - 1) // 2 + 1):
        if odd[i]:
            p = 2 * i + 1
            odd[p * p // 2 :: p] = bytes(len(range(p * p // 2, len(odd), p)))
    window = bytearray([1]) * (hi - lo)  # window[k] stands for lo + k
    for p in [2, *(2 * i + 1 for i in range(1, len(odd)) if odd[i])]:
        first = max(p * p, -(-lo // p) * p)
        if first < hi:
            window[first - lo :: p] = bytes(len(range(first - lo, hi - lo, p)))
    return sum(lo + k for k, flag in enumerate(window) if flag)
