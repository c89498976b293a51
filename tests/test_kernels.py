"""Parity of the Rust kernel with the pure-Python references, on many and large inputs."""

from __future__ import annotations

import bisect
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_rustpath import _native
from flask_rustpath.kernels import (
    primes_below,
    sum_of_primes_naive,
    sum_of_primes_sieve,
)

from .native_hooks import requires_panic_hook
from .reference import lucy_prime_sum

KNOWN = {
    0: 0,
    1: 0,
    2: 0,
    3: 2,
    6: 10,
    10: 17,
    100_000: 454_396_537,
    2_000_000: 142_913_828_922,
}

# Above 3 segments of the Rust sieve (3.9·10^6 numbers each), so parity covers its
# parallel path too.
TOP = 3 * 10**7


@pytest.fixture(scope="module")
def prefix_sums() -> tuple[list[int], list[int]]:
    """Primes below TOP from the pure-Python sieve, with running sums (Σ p < n, n ≤ TOP)."""
    primes = primes_below(TOP)
    return primes, [0, *itertools.accumulate(primes)]


def sieve_sum_from_table(table: tuple[list[int], list[int]], n: int) -> int:
    primes, sums = table
    return sums[bisect.bisect_left(primes, n)]


@pytest.mark.parametrize(("n", "expected"), sorted(KNOWN.items()))
def test_known_values(n: int, expected: int) -> None:
    assert _native.sum_of_primes(n) == expected
    assert sum_of_primes_sieve(n) == expected
    if n <= 100_000:
        assert sum_of_primes_naive(n) == expected


def test_rust_matches_python_sieve_for_every_n_below_5000() -> None:
    mismatches = [n for n in range(5000) if _native.sum_of_primes(n) != sum_of_primes_sieve(n)]
    assert mismatches == []


@pytest.mark.slow  # builds the pure-Python table of primes below 3·10^7 first
@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=0, max_value=TOP))
def test_rust_matches_python_sieve_up_to_thirty_million(prefix_sums, n: int) -> None:
    expected = sieve_sum_from_table(prefix_sums, n)
    assert _native.sum_of_primes(n, threads=2) == expected
    assert _native.sum_of_primes(n, threads=1) == expected


@pytest.mark.slow  # the pure-Python sieve up to 3·10^7, seven times
def test_python_sieve_direct_calls_agree_with_table(prefix_sums) -> None:
    rng = random.Random(20261122)
    for n in [TOP, TOP - 1, *(rng.randrange(TOP) for _ in range(5))]:
        assert (
            sum_of_primes_sieve(n)
            == sieve_sum_from_table(prefix_sums, n)
            == _native.sum_of_primes(n)
        )


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=0, max_value=20_000))
def test_rust_matches_naive(n: int) -> None:
    assert _native.sum_of_primes(n) == sum_of_primes_naive(n)


def test_one_billion() -> None:
    assert _native.sum_of_primes(10**9) == 24_739_512_092_254_535


@pytest.mark.slow
def test_sum_beyond_two_to_the_64_matches_lucy_hedgehog() -> None:
    n = 30_000_000_000  # the sum first passes 2^64 just below here
    expected = lucy_prime_sum(n)
    assert expected > 2**64
    assert _native.sum_of_primes(n) == expected


def test_lucy_reference_is_itself_right() -> None:
    for n, expected in KNOWN.items():
        assert lucy_prime_sum(n) == expected
    assert lucy_prime_sum(10**9) == 24_739_512_092_254_535


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_counts_agree(threads: int) -> None:
    for n in (0, 3, 1_048_576, 10_000_019, 123_456_789):
        assert _native.sum_of_primes(n, threads=threads) == _native.sum_of_primes(n)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((-1,), {}, ValueError, "between 0 and"),
        ((_native.MAX_N + 1,), {}, ValueError, "between 0 and"),
        ((_native.SIEVE_MAX_N + 1,), {"method": "sieve"}, ValueError, "between 0 and"),
        ((10,), {"method": "fast"}, ValueError, "method must be"),
        ((10,), {"timeout": 0}, ValueError, "timeout must be"),
        ((10,), {"timeout": "1"}, TypeError, None),
        ((2**200,), {}, OverflowError, None),
        ((10.0,), {}, TypeError, None),
        (("10",), {}, TypeError, None),
        ((10,), {"threads": 0}, ValueError, "threads must be between 1 and 256"),
        ((10,), {"threads": -3}, ValueError, "threads must be between 1 and 256"),
        ((10,), {"threads": 50_000}, ValueError, "threads must be between 1 and 256"),
    ],
)
def test_bad_arguments_raise_clear_errors(args, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        _native.sum_of_primes(*args, **kwargs)


@requires_panic_hook
def test_panic_reaches_python_and_the_pool_survives() -> None:
    with pytest.raises(BaseException, match="deliberate") as info:
        _native._panic("deliberate")
    assert type(info.value).__name__ == "PanicException"
    assert _native.sum_of_primes(10**8) == 279_209_790_387_276


def test_default_threads_is_positive() -> None:
    assert _native.default_threads() >= 1


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=0, max_value=TOP))
def test_numpy_reference_matches_rust(n: int) -> None:
    numpy_kernels = pytest.importorskip("bench.numpy_kernels")
    assert numpy_kernels.sum_of_primes_numpy(n) == _native.sum_of_primes(n)


def test_numpy_reference_across_segments() -> None:
    numpy_kernels = pytest.importorskip("bench.numpy_kernels")
    segment = 2 * numpy_kernels.SEGMENT  # numbers per NumPy segment
    for n in (segment - 1, segment, segment + 1, 3 * segment + 12_345, 10**8):
        assert numpy_kernels.sum_of_primes_numpy(n) == _native.sum_of_primes(n), n
