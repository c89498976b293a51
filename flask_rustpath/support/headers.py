"""The headers a response carries for its kernel calls, written by the pairing
middleware and, for its native routes, by the Rust front from the same functions.

``X-RustPath-Backend`` names the sides that ran kernels (or the side the URL pinned),
and ``Server-Timing`` has one entry per call: the side, the duration of the
implementation call in milliseconds when it finished, and the kernel's name.
"""

from __future__ import annotations

BACKEND_HEADER = "X-RustPath-Backend"
TIMING_HEADER = "Server-Timing"


def timing(side: str, kernel: str, seconds: float | None) -> str:
    """One ``Server-Timing`` entry; a call that failed before it was timed has no ``dur``."""
    if seconds is None:
        return f'{side};desc="{kernel}"'
    # Milliseconds with three decimals, from the microseconds rounded half to even: the
    # native request path writes it with integer formatting, to the same string.
    micros = max(round(seconds * 1e6), 0)
    return f'{side};dur={micros // 1000}.{micros % 1000:03d};desc="{kernel}"'
