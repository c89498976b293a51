"""Rust kernels compiled with PyO3 (see rust_src/). Every call releases the GIL."""

__all__ = ["MAX_N", "_panic", "default_threads", "sum_of_primes"]

MAX_N: int
"""Largest ``n`` that :func:`sum_of_primes` accepts."""

def sum_of_primes(n: int, *, threads: int | None = None) -> int:
    """Sum of all primes below ``n``.

    Runs on this process's thread pool (rebuilt after ``fork``) unless ``threads``
    is given: ``threads=1`` runs on the calling thread, any other count on a pool of
    that size.

    Raises:
        ValueError: ``n`` is negative or above :data:`MAX_N`, or ``threads < 1``.
    """

def default_threads() -> int:
    """Threads in the process pool: ``RUSTPATH_THREADS`` if set, else the available cores."""

def _panic(message: str) -> None:
    """Panic inside the thread pool; reaches Python as ``PanicException``. For tests."""
