"""The app the benchmark serves: the demo, plus the NumPy sieve as a third Python side.

The NumPy kernel is benchmark tooling (NumPy is not a dependency of the extension), so
it is declared here, on the demo's extension object, before the app is built: in a
process that imports this module, every demo app has the NumPy route too.
"""

from __future__ import annotations

from flask_rustpath.demo import RUST_SUM_OF_PRIMES, create_app, rustpath

from .numpy_kernels import sum_of_primes_numpy

__all__ = ["create_app"]


@rustpath.hot(
    "/numpy/sum_of_primes/<int:n>",
    rust=RUST_SUM_OF_PRIMES,
    name="sum_of_primes_numpy",
    limits={"python": {"n": 10**9}, "rust": {"n": 10**10}},
    examples=[{"n": 10_000_000}],
)
def sum_of_primes_numpy_demo(n: int) -> int:
    """Sum of the primes below ``n`` by a segmented NumPy sieve."""
    return sum_of_primes_numpy(n)
