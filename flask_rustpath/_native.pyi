"""Rust kernels compiled with PyO3 (see rust_src/). Every kernel releases the GIL for
its computation; the request path's classes (rust_src/request_path.rs) work on Python
objects and hold it."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from typing_extensions import CapsuleType, disjoint_base, final

__all__ = [
    "CROSSOVER_N",
    "MAX_N",
    "NATIVE_ABI_VERSION",
    "SIEVE_MAX_N",
    "CallRecord",
    "KernelCall",
    "SidePaths",
    "Start",
    "__rustpath_native__",
    "_panic",
    "_rank_words",
    "_test_native",
    "_timing_entry",
    "configure_request_path",
    "default_threads",
    "serve_front",
    "sum_of_primes",
]

MAX_N: int
"""Largest ``n`` that :func:`sum_of_primes` accepts (``method="auto"`` or ``"sublinear"``)."""

SIEVE_MAX_N: int
"""Largest ``n`` that ``sum_of_primes(n, method="sieve")`` accepts."""

CROSSOVER_N: int
"""From this ``n`` on, ``method="auto"`` uses the sublinear method (measured)."""

def sum_of_primes(
    n: int,
    *,
    threads: int | None = None,
    method: Literal["auto", "sieve", "sublinear"] = "auto",
    timeout: float | None = None,
) -> int:
    """Sum of all primes below ``n``.

    ``method="sieve"`` runs the segmented sieve (O(n) time), ``"sublinear"`` the
    Lagarias-Miller-Odlyzko / Deleglise-Rivat prime sum (about O(n^(2/3)) time), and
    ``"auto"`` whichever is faster at ``n`` (:data:`CROSSOVER_N`).

    Runs on this process's thread pool (rebuilt after ``fork``) unless ``threads``
    is given: ``threads=1`` runs on the calling thread, any other count on a pool of
    that size. ``timeout`` (seconds) stops the computation.

    Raises:
        ValueError: ``n`` is negative or above the method's limit (:data:`MAX_N`,
            :data:`SIEVE_MAX_N`), ``threads < 1``, an unknown ``method``, or a
            ``timeout`` that is not a positive number.
        TimeoutError: the computation ran past ``timeout``.
    """

NATIVE_ABI_VERSION: int
"""Version of the C ABI of native entry points this module speaks (see docs/native-abi.md)."""

__rustpath_native__: dict[str, CapsuleType]
"""Native entry points of the built-in kernels, by function name, for the Rust front."""

def serve_front(config: str, entries: dict[str, CapsuleType]) -> None:
    """Run the Rust front until SIGTERM or SIGINT (``flask rustpath serve`` calls it).

    ``config`` is the JSON of ``flask_rustpath.front.front_config``; ``entries`` maps
    each route's entry key to its capsule. The GIL is released while serving.

    Raises:
        ValueError: the configuration or a capsule is invalid.
        RuntimeError: the address cannot be bound or the runtime cannot start.
    """

def default_threads() -> int:
    """Threads in the process pool: ``RUSTPATH_THREADS`` if set, else the available cores."""

def _panic(message: str) -> None:
    """Panic inside the thread pool; reaches Python as ``PanicException``.

    Only in builds with the ``test-hooks`` cargo feature (the tests' build), never in
    the shipped wheel.
    """

def _rank_words(
    words: list[str], limit: int, *, timeout: float | None = None
) -> list[tuple[str, int]]:
    """A ``#[rustpath::kernel]`` for the tests: the ``limit`` words with most vowels.

    Only in builds with the ``test-hooks`` cargo feature. ``limit=-1`` panics; another
    negative ``limit`` is refused with ``ValueError``.
    """

_test_native: dict[str, CapsuleType]
"""``_rank_words``'s native entry point (``test-hooks`` builds only)."""

# -- the per-request path (rust_src/request_path.rs) ------------------------------------

def configure_request_path(
    current: Callable[[], Any],
    to_environ: Sequence[str],
    record_key: str,
    side_rule: type,
    failed_call: Callable[..., Any],
    no_write: Callable[[bytes], object],
) -> None:
    """Install how kernel calls find their request (once per process; the first wins)."""

@final
class CallRecord:
    """One request: its app's runtime, the side its URL pinned, its kernel calls."""

    def __new__(cls, state: Any, side: str | None) -> CallRecord: ...
    @property
    def state(self) -> Any: ...
    @property
    def side(self) -> Any: ...
    @property
    def calls(self) -> list[Any]: ...

@disjoint_base
class SidePaths:
    """The native base of the pairing middleware."""

    ready: bool
    hot: bool
    wsgi_app: Any
    @property
    def state(self) -> Any: ...
    def __new__(cls, app: Any, wsgi_app: Any, state: Any) -> SidePaths: ...
    def _side_of(self, path: str) -> Any: ...
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]: ...

@final
class Start:
    """The ``start_response`` the pairing middleware gives the app."""

    def __call__(self, status: str, headers: Any, exc_info: Any = None) -> Any: ...

@disjoint_base
class KernelCall:
    """The native base of a kernel: its call."""

    def __new__(cls, *_args: Any, **_kwargs: Any) -> KernelCall: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

def _timing_entry(side: str, kernel: str, seconds: float | None) -> str:
    """One ``Server-Timing`` entry, written by the native path."""
