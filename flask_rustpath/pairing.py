"""Paired views: one Flask view served at ``<rule>``, ``/python<rule>`` and ``/rust<rule>``.

The mechanism adds no URL rules. A small WSGI middleware in front of the app takes a
side prefix off ``PATH_INFO`` (``/rust/blog/stats/3`` becomes ``/blog/stats/3``),
records the side for the request, and lets Flask route the rest as usual. So the view
runs exactly as on its plain URL: its decorators, ``request``, ``g``, ``abort``, its
blueprint's ``url_prefix``, hooks and error handlers, ``async``, and any return
value. Only views marked with :func:`paired` answer under a prefix; any other URL
there is the app's own 404.

Every kernel call made while serving the request runs on the pinned side. On the
plain URL each kernel follows its configured backend. Responses carry
``X-RustPath-Backend`` (the sides that ran kernels) and ``Server-Timing`` (one entry
per kernel call: side, name, milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import abort, current_app, request
from flask import url_for as flask_url_for
from werkzeug.routing import RequestRedirect

from .context import SIDES, CallRecord, Side, current_record

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .state import RustPathState

F = TypeVar("F", bound=Callable[..., Any])

PAIRED_ATTRIBUTE = "__rustpath_paired__"
BACKEND_HEADER = "X-RustPath-Backend"


def paired(view: F) -> F:
    """Serve this view at ``/python<rule>`` and ``/rust<rule>`` too.

    Place it directly under the route decorator, above the view's own decorators::

        @bp.route("/stats/<int:post_id>")
        @rustpath.paired
        @login_required
        def stats(post_id): ...

    The view is returned unchanged but for a marker, so it stays sync or async and
    keeps everything its other decorators gave it.
    """
    setattr(view, PAIRED_ATTRIBUTE, True)
    return view


def is_paired(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, PAIRED_ATTRIBUTE, False))


class PairingMiddleware:
    """WSGI middleware: side prefixes off ``PATH_INFO``, one :class:`CallRecord` per
    request, and the kernel headers on the way out."""

    def __init__(self, wsgi_app: WSGIApplication, state: RustPathState) -> None:
        self.wsgi_app = wsgi_app
        self.state = state
        self.prefixes: tuple[tuple[str, Side], ...] = tuple(
            (state.settings.prefix(side), side) for side in SIDES
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        side: Side | None = None
        for prefix, candidate in self.prefixes:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                side = candidate
                environ["PATH_INFO"] = path[len(prefix) :] or "/"
                break
        record = CallRecord(self.state, side, original_path=path)
        token = current_record.set(record)
        try:

            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                if record.calls or side is not None:
                    headers.extend(_kernel_headers(record))
                return start_response(status, headers, exc_info)

            return self.wsgi_app(environ, start)
        finally:
            current_record.reset(token)


def _kernel_headers(record: CallRecord) -> list[tuple[str, str]]:
    sides = list(dict.fromkeys(side for side, _, _ in record.calls))
    if not sides and record.side is not None:
        sides = [record.side]
    headers = [(BACKEND_HEADER, ", ".join(sides))]
    if record.calls:
        timing = ", ".join(
            f'{side};dur={seconds * 1000:.3f};desc="{name}"'
            for side, name, seconds in record.calls
        )
        headers.append(("Server-Timing", timing))
    return headers


def refuse_unpaired() -> None:
    """``before_request``: under a side prefix, only paired views answer.

    Runs first among the app's ``before_request`` functions. A routing redirect
    (a missing trailing slash) keeps the side prefix, so the client stays on it.
    """
    record = current_record.get()
    if record is None or record.side is None:
        return
    exc = request.routing_exception
    if isinstance(exc, RequestRedirect):
        exc.new_url = with_side(exc.new_url, record.side, record.state)
        return
    if exc is not None:
        return  # the app's own 404/405
    if not is_paired(current_app.view_functions.get(request.endpoint or "")):
        abort(404)


def url_for(endpoint: str, *, side: Side | None = None, **values: Any) -> str:
    """``flask.url_for``, plus ``side="python"`` or ``side="rust"`` for a paired view's
    variants: ``url_for("blog.stats", post_id=3, side="rust")`` → ``/rust/blog/stats/3``.

    Also available in templates as ``rustpath_url_for``.
    """
    url = flask_url_for(endpoint, **values)
    if side is None:
        return url
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES} or None, got {side!r}")
    view = current_app.view_functions.get(endpoint)
    if view is None and endpoint.startswith(".") and request:
        blueprint = request.blueprint
        view = current_app.view_functions.get(f"{blueprint}{endpoint}")
    if not is_paired(view):
        raise ValueError(f"{endpoint!r} is not a paired view: it has no {side} variant")
    from .state import get_state

    return with_side(url, side, get_state())


def with_side(url: str, side: Side, state: RustPathState) -> str:
    """Insert ``side``'s prefix into a URL built for the plain rule, after the
    script root (an app mounted under a path keeps its mount point)."""
    script_root = request.script_root if request else ""
    scheme_end = url.find("://")
    start = 0
    if scheme_end != -1:
        start = url.find("/", scheme_end + 3)
        if start == -1:
            return url + state.settings.prefix(side)
    start += len(script_root) if url.startswith(script_root, start) else 0
    return url[:start] + state.settings.prefix(side) + url[start:]
