"""Paired views: one Flask view served at ``<rule>``, ``/python<rule>`` and ``/rust<rule>``.

On the app's first request, a small WSGI middleware in front of the app gives every
paired view's rule a twin under each side prefix (see :mod:`flask_rustpath.pairing`),
with the same endpoint. Flask then routes ``/rust/blog/stats/3`` to the view in the one
URL match it makes for every request, so the view runs exactly as on its plain URL:
its decorators, ``request``, ``g``, ``abort``, its blueprint's ``url_prefix``, hooks
and error handlers, ``async``, and any return value. ``request.path`` is the URL asked
for, so a login redirect's ``next`` comes back to the same side. Only views marked with
:func:`paired` answer under a prefix; any other URL there is the app's own 404.

Every kernel call made while serving the request runs on the pinned side. On the
plain URL each kernel follows its configured backend. Responses carry
``X-RustPath-Backend`` (the sides that ran kernels) and ``Server-Timing`` (one entry
per kernel call: side, name, milliseconds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter

from .core.config import SettingsRefused, check_kernel_names
from .core.errors import Misconfigured
from .core.headers import BACKEND_HEADER, TIMING_HEADER, timing
from .core.record import RECORD_KEY, CallRecord
from .core.sides import Side
from .pairing import SideRule, add_side_rules
from .state import RustPathState
from .support.forksafe import fork_safe_lock

log = logging.getLogger("flask_rustpath")

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class PairingMiddleware:
    """WSGI middleware: the side twins of paired views' rules, the side a prefixed URL
    pins, the kernel headers on the way out, and JSON for routing errors under a hot
    route's rule.

    A request costs a prefix test, a closure and one dict lookup when its response
    starts; the record of its kernel calls is made by its first call (see
    :mod:`flask_rustpath.core.record`), or here for a side-prefixed URL.
    """

    def __init__(self, app: Flask, wsgi_app: WSGIApplication, state: RustPathState) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.state = state
        self.prefixes = state.side_prefixes
        self.any_prefix = tuple(prefix for prefix, _ in self.prefixes)
        self._ready = False
        self._lock = fork_safe_lock(self)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._ready:
            self._first_request()
        path: str = environ.get("PATH_INFO", "")
        if path.startswith(self.any_prefix):
            side = self._side_of(path)
            if side is not None:
                environ[RECORD_KEY] = CallRecord(self.state, side)
        hot_routes = self.state.routes
        deferred: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # While Flask still holds the request (it unlinks it from the environ after).
            record: CallRecord | None = environ.get(RECORD_KEY)
            if record is not None and (record.calls or _served_pinned(record, environ)):
                headers.extend(_kernel_headers(record))
            if hot_routes and status[:3] in ("404", "405"):
                deferred[:] = (status, headers, exc_info)  # maybe a JSON routing error
                return _no_write
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        if deferred:
            error = self._routing_error(environ)
            if error is not None:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
                return error(environ, start_response)
            status, headers, exc_info = deferred
            start_response(status, headers, exc_info)
        return body

    def _side_of(self, path: str) -> Side | None:
        """The side whose prefix starts ``path`` as a whole segment."""
        for prefix, side in self.prefixes:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return side
        return None

    def _first_request(self) -> None:
        """Once, before the app's first URL match, when every kernel and view is declared
        (Flask refuses new views from then on; a factory may import the blueprints that
        declare kernels after ``init_app``): check the kernel names the settings use,
        then give each paired view's rules their side twins.

        A wrong name fails this request and every one after, logged, until it is fixed.
        """
        with self._lock:
            if self._ready:
                return
            try:
                check_kernel_names(self.state.settings, self.state.kernels)
            except Misconfigured as exc:
                log.error("flask-rustpath: %s", exc)
                raise SettingsRefused(str(exc)) from None
            add_side_rules(self.app, self.prefixes)
            self.state.sides_added = True
            self._ready = True

    def _routing_error(self, environ: WSGIEnvironment) -> HTTPException | None:
        """JSON for a 404/405 that routing (not a view's ``abort``) gave under a hot rule."""
        try:
            self._adapter(environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            raw: str = environ.get("PATH_INFO", "") or "/"
            side = self._side_of(raw) if raw.startswith(self.any_prefix) else None
            if side is not None:
                raw = raw[len(self.state.settings.prefix(side)) :] or "/"
            path = raw.encode("latin-1").decode("utf-8", "replace")
            return self.state.routing_error(exc, path)
        except HTTPException:
            return None
        return None

    def _adapter(self, environ: WSGIEnvironment) -> MapAdapter:
        # Not populated into the environ: the request Flask served stays the one there.
        request = self.app.request_class(environ, populate_request=False)
        adapter = self.app.create_url_adapter(request)
        assert adapter is not None  # a request always gets an adapter
        return adapter


def _served_pinned(record: CallRecord, environ: WSGIEnvironment) -> bool:
    """Whether the request's URL pinned a side and routed to a paired view's twin (a
    URL under a prefix that matched nothing is the app's 404, with no kernel header)."""
    if record.side is None:
        return False
    request = environ.get("werkzeug.request")
    return isinstance(getattr(request, "url_rule", None), SideRule)


def _no_write(data: bytes) -> None:
    raise RuntimeError("flask-rustpath's middleware does not support write(); return a body")


def _kernel_headers(record: CallRecord) -> list[tuple[str, str]]:
    """``X-RustPath-Backend`` (the sides that ran kernels, or the pinned side) and one
    ``Server-Timing`` entry per call (see :mod:`flask_rustpath.core.headers`)."""
    calls = record.calls
    if not calls:
        return [(BACKEND_HEADER, record.side or "")]
    if len(calls) == 1:  # the common case, cheap
        name, side, seconds, _error = calls[0]
        return [(BACKEND_HEADER, side), (TIMING_HEADER, timing(side, name, seconds))]
    sides = ", ".join(dict.fromkeys(side for _, side, _, _ in calls))
    entries = ", ".join(timing(side, name, seconds) for name, side, seconds, _ in calls)
    return [(BACKEND_HEADER, sides), (TIMING_HEADER, entries)]
