"""The per-request record that pins kernel calls to a side and collects their timings.

The pairing middleware (see :mod:`flask_rustpath.middleware`) sets one
:class:`CallRecord` per request in a context variable, before Flask routes the URL.
Kernels read it to know which side to run and where to report what they did; the
middleware turns the reports into ``Server-Timing`` and ``X-RustPath-Backend``
headers. A context variable rather than ``flask.g``: it costs a lookup instead of a
proxy resolution on every call, and it follows ``async`` views into their thread.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from .runtime import Runtime
from .sides import Side


class CallRecord:
    """One request: its app's runtime, the side its URL pinned (``None`` on the plain
    URL), and each kernel call made while serving it."""

    __slots__ = ("calls", "side", "state")

    def __init__(self, state: Runtime, side: Side | None) -> None:
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


def _nothing() -> None:
    return None


# Where a kernel call finds its record or its app's runtime when the context variable
# does not reach it: a streamed body runs after the middleware has returned, and a call
# from a shell or a job has no request at all. The core knows no framework, so the
# Flask face installs these (see :func:`locate_with`); until then there are none.
locate_record: Callable[[], CallRecord | None] = _nothing
locate_runtime: Callable[[], Runtime | None] = _nothing


def locate_with(
    record: Callable[[], CallRecord | None], runtime: Callable[[], Runtime | None]
) -> None:
    """Install how the framework finds a call's record and runtime outside the context
    variable."""
    global locate_record, locate_runtime
    locate_record, locate_runtime = record, runtime
