"""The per-request record that pins kernel calls to a side and collects their timings.

The pairing middleware (see :mod:`flask_rustpath.pairing`) sets one
:class:`CallRecord` per request in a context variable, before Flask routes the URL.
Kernels read it to know which side to run and where to report what they did; the
middleware turns the reports into ``Server-Timing`` and ``X-RustPath-Backend``
headers. A context variable rather than ``flask.g``: it costs a lookup instead of a
proxy resolution on every call, and it follows ``async`` views into their thread.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .state import RustPathState

Side = Literal["python", "rust"]
SIDES: tuple[Side, ...] = ("python", "rust")
# What serves a kernel when no side is pinned: a side, or "shadow" (Rust answers,
# Python is run on a sample of calls off the request path and compared).
Backend = Literal["python", "rust", "shadow"]
BACKENDS: tuple[Backend, ...] = ("rust", "python", "shadow")


class CallRecord:
    """One request: its app's state, the side its URL pinned (``None`` on the plain
    URL), and each kernel call made while serving it."""

    __slots__ = ("calls", "side", "state")

    def __init__(self, state: RustPathState, side: Side | None) -> None:
        self.state = state
        self.side = side
        # (side, kernel name, seconds or None if it failed untimed) per call, in order.
        self.calls: list[tuple[str, str, float | None]] = []


current_record: ContextVar[CallRecord | None] = ContextVar("rustpath_request", default=None)
# The same record in the WSGI environ, for a streamed body's kernel calls: they run once
# the middleware has returned, inside Flask's copy of the request context.
RECORD_KEY = "flask_rustpath.record"


def current_side() -> Side | None:
    """The side this request's URL pinned (``/python…`` or ``/rust…``), else ``None``."""
    record = current_record.get()
    return record.side if record is not None else None
