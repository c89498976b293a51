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

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter, RequestRedirect

from .core.headers import BACKEND_HEADER, TIMING_HEADER, timing
from .core.record import RECORD_KEY, CallRecord, current_record
from .core.sides import SIDES, Side
from .pairing import is_paired
from .state import RustPathState
from .urls import insert_prefix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class PairingMiddleware:
    """WSGI middleware: side prefixes off ``PATH_INFO``, one :class:`CallRecord` per
    request, the kernel headers on the way out, and JSON for routing errors under a
    hot route's rule.

    A plain URL costs a prefix test and a context variable. A side-prefixed URL is
    matched against the app's URL map first: only a paired view's URL loses its prefix;
    any other one reaches Flask unchanged, matches nothing (the prefixes are reserved)
    and gets the app's own 404. A missing trailing slash redirects with the prefix kept.
    """

    def __init__(self, app: Flask, wsgi_app: WSGIApplication, state: RustPathState) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.state = state
        self.prefixes: tuple[tuple[str, Side], ...] = tuple(
            (state.settings.prefix(side), side) for side in SIDES
        )
        self.any_prefix = tuple(prefix for prefix, _ in self.prefixes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        side: Side | None = None
        if path.startswith(self.any_prefix):
            for prefix, candidate in self.prefixes:
                if path.startswith(prefix) and (
                    len(path) == len(prefix) or path[len(prefix)] == "/"
                ):
                    redirect = self._pin(environ, path, prefix)
                    if redirect is not None:
                        return redirect(environ, start_response)
                    if environ["PATH_INFO"] is not path:
                        side = candidate
                    break
        record = environ[RECORD_KEY] = CallRecord(self.state, side)
        token = current_record.set(record)
        deferred: list[Any] = []
        hot_routes = self.state.routes

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if hot_routes and status[:3] in ("404", "405"):
                deferred[:] = (status, headers, exc_info)  # maybe a JSON routing error
                return _no_write
            if record.calls or side is not None:
                headers.extend(_kernel_headers(record))
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, start)
        finally:
            current_record.reset(token)
        if deferred:
            error = self._routing_error(environ)
            if error is not None:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
                return error(environ, start_response)
            status, headers, exc_info = deferred
            if record.calls or side is not None:
                headers.extend(_kernel_headers(record))
            start_response(status, headers, exc_info)
        return body

    def _pin(self, environ: WSGIEnvironment, path: str, prefix: str) -> HTTPException | None:
        """Take ``prefix`` off ``PATH_INFO`` if what remains is a paired view's URL."""
        environ["PATH_INFO"] = path[len(prefix) :] or "/"
        try:
            endpoint, _ = self._adapter(environ).match()
        except RequestRedirect as redirect:
            redirect.new_url = insert_prefix(
                redirect.new_url, prefix, environ.get("SCRIPT_NAME", "")
            )
            return redirect
        except HTTPException:
            return None  # Flask raises the same 404/405 for the paired view's own URL
        if not is_paired(self.app.view_functions.get(str(endpoint))):
            environ["PATH_INFO"] = path  # reserved: matches nothing, the app's own 404
        return None

    def _routing_error(self, environ: WSGIEnvironment) -> HTTPException | None:
        """JSON for a 404/405 that routing (not a view's ``abort``) gave under a hot rule."""
        try:
            self._adapter(environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            raw: str = environ.get("PATH_INFO", "") or "/"
            path = raw.encode("latin-1").decode("utf-8", "replace")
            return self.state.routing_error(exc, path)
        except HTTPException:
            return None
        return None

    def _adapter(self, environ: WSGIEnvironment) -> MapAdapter:
        adapter = self.app.create_url_adapter(self.app.request_class(environ))
        assert adapter is not None  # a request always gets an adapter
        return adapter


def _no_write(data: bytes) -> None:
    raise RuntimeError("flask-rustpath's middleware does not support write(); return a body")


def _kernel_headers(record: CallRecord) -> list[tuple[str, str]]:
    """``X-RustPath-Backend`` (the sides that ran kernels, or the pinned side) and one
    ``Server-Timing`` entry per call (see :mod:`flask_rustpath.core.headers`)."""
    calls = record.calls
    if not calls:
        return [(BACKEND_HEADER, record.side or "")]
    if len(calls) == 1:  # the common case, cheap
        side, name, seconds = calls[0]
        return [(BACKEND_HEADER, side), (TIMING_HEADER, timing(side, name, seconds))]
    sides = ", ".join(dict.fromkeys(side for side, _, _ in calls))
    entries = ", ".join(timing(side, name, seconds) for side, name, seconds in calls)
    return [(BACKEND_HEADER, sides), (TIMING_HEADER, entries)]
