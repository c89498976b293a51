"""The built-in hot routes, declared with the same public decorator users call.

Registered on every app unless ``RUSTPATH_BUILTINS`` is false.
"""

from __future__ import annotations

from .hot import HotRoutes
from .kernels import sum_of_primes_naive

builtin_routes = HotRoutes()


@builtin_routes.hot(
    "/sum_of_primes/<int:n>",
    rust="flask_rustpath._native:sum_of_primes",
    # Trial division at n = 10**6 already takes seconds; the Rust sieve does 10**10
    # in about as long on two cores.
    limits={"python": {"n": 1_000_000}, "rust": {"n": 30_000_000_000_000}},
    examples=[{"n": 100_000}],
)
def sum_of_primes(n: int) -> int:
    """Sum of the primes below ``n`` by trial division, the slow original of the blog post."""
    return sum_of_primes_naive(n)
