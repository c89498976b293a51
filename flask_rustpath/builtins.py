"""The built-in kernels: the blog post's ``sum_of_primes``, declared like users' kernels.

Their JSON routes live on the extension's blueprint (under ``RUSTPATH_URL_PREFIX``)
only when ``RUSTPATH_BUILTINS`` is true: they are public CPU-heavy URLs, so they are
off in your apps and on in the demo.
"""

from __future__ import annotations

from .core.kernel import Kernel
from .kernels import sum_of_primes_naive


def _sum_of_primes(n: int) -> int:
    """Sum of the primes below ``n`` by trial division, the slow original of the blog post."""
    return sum_of_primes_naive(n)


_sum_of_primes.__name__ = _sum_of_primes.__qualname__ = "sum_of_primes"

sum_of_primes = Kernel(
    _sum_of_primes,
    rust="flask_rustpath._native:sum_of_primes",
    # Trial division at n = 10**6 already takes seconds. On the Rust side, 2·10^14 is
    # the largest n the sublinear sum answers in about a second of one core (1.00 s,
    # best of 3; 10^14 takes 0.66 s); it also finishes well inside the default
    # RUSTPATH_DEADLINE.
    limits={"python": {"n": 1_000_000}, "rust": {"n": 200_000_000_000_000}},
    examples=[{"n": 100_000}],
)

builtin_kernels = (sum_of_primes,)
# (rule under the extension's blueprint, kernel) of the built-in JSON routes.
builtin_routes = (("/sum_of_primes/<int:n>", sum_of_primes),)
