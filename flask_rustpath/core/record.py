"""The per-request record that pins kernel calls to a side and collects their timings.

A request's record lives in its WSGI environ, under :data:`RECORD_KEY`. The pairing
middleware (see :mod:`flask_rustpath.middleware`) creates it for every request, with
the side a ``/python`` or ``/rust`` URL pinned (``None`` on the plain URL); a kernel
called in a request context the middleware did not serve (``test_request_context``)
creates it on its first call. Kernels read it to know which side to run and where to
report what they did; the middleware turns the reports into ``Server-Timing`` and
``X-RustPath-Backend`` headers.

:class:`CallRecord` is native (``rust_src/request_path.rs``), a few hundred
instructions to make: its app's runtime (``state``), the pinned side (``side``) and its
calls (``calls``, a list of :data:`Call`).

The core knows no framework, so how a call finds the request it belongs to is installed
by the Flask face (:func:`locate_with`): through the request context Flask already
keeps, which follows ``async`` views into their thread and a streamed body
(``stream_with_context``) past the middleware's return.
"""

from __future__ import annotations

from collections.abc import Callable

from ..support.native import CallRecord
from .runtime import Runtime
from .sides import Side

__all__ = ["RECORD_KEY", "Call", "CallRecord", "current_side", "locate_with"]

# One call: (kernel name, side, seconds or None if it failed before it was timed, error
# code or None). The same tuple feeds the request's headers and the app's metrics.
Call = tuple[str, str, "float | None", "str | None"]

RECORD_KEY = "flask_rustpath.record"


def _nothing() -> None:
    return None


# Where a kernel call finds its request's record (creating it on the request's first
# call) and, outside a request, its app's runtime. The Flask face installs these (see
# :func:`locate_with`); until then a call belongs to no request and no app.
locate_record: Callable[[], CallRecord | None] = _nothing
locate_runtime: Callable[[], Runtime | None] = _nothing


def locate_with(
    record: Callable[[], CallRecord | None], runtime: Callable[[], Runtime | None]
) -> None:
    """Install how the framework finds a call's record and runtime."""
    global locate_record, locate_runtime
    locate_record, locate_runtime = record, runtime


def current_side() -> Side | None:
    """The side this request's URL pinned (``/python…`` or ``/rust…``), else ``None``."""
    record = locate_record()
    return record.side if record is not None else None
