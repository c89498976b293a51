"""The sublinear prime sum against independent references, the sieve, and known values.

References: Lucy_Hedgehog's O(n^¾) method (tests/reference.py here up to 10^11, its
Rust twin in rust_src/primesum.rs up to 10^12), the Rust sieve up to 10^10, and beyond
both a window check near 10^16: S(n) - S(n - 10^6) against a segmented sieve of that
window alone.
"""

from __future__ import annotations

import math
import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_rustpath import _native

from .reference import lucy_prime_sum, window_prime_sum

KNOWN = {
    10**9: 24_739_512_092_254_535,
    10**11: 201_467_077_743_744_681_014,
    10**12: 18_435_588_552_550_705_911_377,
    10**13: 1_699_246_443_377_779_418_889_494,
}
SMALL_PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 101, 1009, 10007]


def sublinear(n: int, **kwargs: object) -> int:
    return _native.sum_of_primes(n, method="sublinear", **kwargs)  # type: ignore[arg-type]


def sieve(n: int, **kwargs: object) -> int:
    return _native.sum_of_primes(n, method="sieve", **kwargs)  # type: ignore[arg-type]


def edge_cases() -> list[int]:
    cases = set(range(0, 40))
    for p in SMALL_PRIMES:
        for power in (p, p**2, p**3):
            if power <= 10**8:  # Lucy in Python stays under a second
                cases.update({power - 1, power, power + 1})
    for boundary in (_native.CROSSOVER_N, 10_000, 2**18, 2**19):
        cases.update(range(boundary - 3, boundary + 4))
    return sorted(c for c in cases if c >= 0)


@pytest.mark.parametrize("n", edge_cases())
def test_edge_cases_agree_with_lucy_and_the_sieve(n: int) -> None:
    expected = lucy_prime_sum(n)
    assert sublinear(n) == expected
    assert sieve(n) == expected
    assert _native.sum_of_primes(n) == expected


def test_tiny_values() -> None:
    assert [sublinear(n) for n in range(7)] == [0, 0, 0, 2, 5, 5, 10]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=0, max_value=10**8))
def test_random_n_agree_with_the_sieve(n: int) -> None:
    assert sublinear(n, threads=1) == sieve(n, threads=2)
    assert sublinear(n, threads=2) == sieve(n, threads=2)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=10**4, max_value=10**7))
def test_random_n_agree_with_lucy(n: int) -> None:
    assert sublinear(n) == lucy_prime_sum(n)


@pytest.mark.slow
def test_random_large_n_agree_with_lucy_and_the_sieve() -> None:
    rng = random.Random(1122)
    for _ in range(4):
        n = rng.randrange(10**9, 10**10)
        assert sublinear(n) == lucy_prime_sum(n) == sieve(n), n
    for _ in range(2):
        n = rng.randrange(10**10, 10**11)
        assert sublinear(n, threads=2) == lucy_prime_sum(n), n


@pytest.mark.slow
def test_lucy_near_ten_to_the_eleven() -> None:
    # Lucy in Python takes ~40 s here; cargo test runs its Rust twin at 10^12.
    n = 10**11 - 11
    assert sublinear(n) == lucy_prime_sum(n)


@pytest.mark.parametrize(("n", "expected"), sorted(KNOWN.items()))
def test_known_values(n: int, expected: int) -> None:
    assert sublinear(n) == expected
    assert _native.sum_of_primes(n) == expected


@pytest.mark.slow
def test_known_value_at_ten_to_the_ten_by_both_methods() -> None:
    expected = 2_220_822_432_581_729_238
    assert sieve(10**10) == sublinear(10**10, threads=1) == expected


@pytest.mark.slow
def test_window_near_ten_to_the_sixteen() -> None:
    n = 10**16 - 7
    width = 10**6
    assert sublinear(n) - sublinear(n - width) == window_prime_sum(n - width, n)


def test_window_reference_is_itself_right() -> None:
    for lo, hi in [(0, 100), (90, 200), (10**6, 10**6 + 5000), (10**9, 10**9 + 10**4)]:
        assert window_prime_sum(lo, hi) == lucy_prime_sum(hi) - lucy_prime_sum(lo)


def test_limits_are_exported_and_enforced() -> None:
    assert _native.MAX_N == 10**18
    assert _native.SIEVE_MAX_N == 2**50
    assert _native.SIEVE_MAX_N < _native.MAX_N
    with pytest.raises(ValueError, match="between 0 and 1000000000000000000"):
        _native.sum_of_primes(_native.MAX_N + 1)
    with pytest.raises(ValueError, match="between 0 and 1000000000000000000"):
        sublinear(_native.MAX_N + 1)
    with pytest.raises(ValueError, match=f"between 0 and {2**50}"):
        sieve(_native.SIEVE_MAX_N + 1)
    with pytest.raises(ValueError, match="between 0 and"):
        sublinear(-1)


@pytest.mark.parametrize("method", ["Auto", "", "lucy", "SIEVE"])
def test_unknown_method_is_a_value_error(method: str) -> None:
    with pytest.raises(ValueError, match="method must be"):
        _native.sum_of_primes(10, method=method)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_bad_timeout_is_a_value_error(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        _native.sum_of_primes(10, timeout=timeout)


@pytest.mark.parametrize(
    ("method", "n"), [("sublinear", 10**18), ("sieve", 2**50), ("auto", 10**18)]
)
@pytest.mark.parametrize("threads", [1, 2])
def test_timeout_stops_promptly_and_the_pool_keeps_working(
    method: str, n: int, threads: int
) -> None:
    # CPU time of this process, not wall-clock: other load on the machine cannot
    # inflate it, and a call that ran on past its deadline would burn it.
    started = time.process_time()
    with pytest.raises(TimeoutError, match=r"timeout of 0\.05 s"):
        _native.sum_of_primes(n, method=method, threads=threads, timeout=0.05)  # type: ignore[arg-type]
    # Chunks are milliseconds of work: stopping at the deadline costs far less than 2 s.
    assert time.process_time() - started < 2.0
    assert _native.sum_of_primes(10**9, threads=threads) == KNOWN[10**9]
    assert _native.sum_of_primes(10**7, method="sieve") == 3_203_324_994_356


def test_a_generous_timeout_does_not_fire() -> None:
    assert _native.sum_of_primes(10**12, timeout=600.0) == KNOWN[10**12]


def test_sublinear_releases_the_gil() -> None:
    # A Python thread makes progress while one Rust call runs: with the GIL held it
    # could not run at all until the call returned.
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        before = ticks
        sublinear(10**13, threads=1)
        during = ticks - before
    finally:
        done.set()
        counter.join()
    assert during > 50, during  # held, it could tick at most around the call
