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

from .core.calling import failed_call
from .core.config import SettingsRefused, check_kernel_names
from .core.errors import Misconfigured
from .core.record import RECORD_KEY
from .flask_internals import request_context_getter
from .pairing import SideRule, add_side_rules
from .state import RustPathState
from .support.forksafe import fork_safe_lock
from .support.native import SidePaths, configure_request_path

log = logging.getLogger("flask_rustpath")

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class PairingMiddleware(SidePaths):
    """WSGI middleware: the side twins of paired views' rules, the side a prefixed URL
    pins, the kernel headers on the way out, and JSON for routing errors under a hot
    route's rule.

    Its per-request work is native (:class:`SidePaths`, ``rust_src/request_path.rs``):
    it makes the request's record (see :mod:`flask_rustpath.core.record`) with the
    side a prefixed URL pins, and gives the app a ``start_response`` that adds the
    kernel headers and, when the app has JSON routes, holds back a 404 or 405 for
    :meth:`_routing_answer`. The once-only first request is :meth:`_first_request`.
    """

    # The wrapped app and the runtime are the base's (``wsgi_app`` may be replaced, by a
    # middleware put in between; ``state`` is read-only).
    wsgi_app: WSGIApplication
    state: RustPathState

    def __init__(self, app: Flask, wsgi_app: WSGIApplication, state: RustPathState) -> None:
        # (the base took wsgi_app and state when the instance was made)
        self.app = app
        self.prefixes = state.side_prefixes
        self.any_prefix = tuple(prefix for prefix, _ in self.prefixes)
        self._lock = fork_safe_lock(self)

    def _routing_answer(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        body: Iterable[bytes],
        status: str,
        headers: list[tuple[str, str]],
        exc_info: Any,
    ) -> Iterable[bytes]:
        """A held-back 404 or 405: JSON if routing gave it under a hot route's rule,
        else the app's own answer, started now."""
        error = self._routing_error(environ)
        if error is not None:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            return error(environ, start_response)
        start_response(status, headers, exc_info)
        return body

    def _first_request(self) -> None:
        """Once, before the app's first URL match, when every kernel and view is declared
        (Flask refuses new views from then on; a factory may import the blueprints that
        declare kernels after ``init_app``): check the kernel names the settings use,
        then give each paired view's rules their side twins.

        A wrong name fails this request and every one after, logged, until it is fixed.
        """
        with self._lock:
            if self.ready:
                return
            try:
                check_kernel_names(self.state.settings, self.state.kernels)
            except Misconfigured as exc:
                log.error("flask-rustpath: %s", exc)
                raise SettingsRefused(str(exc)) from None
            add_side_rules(self.app, self.prefixes)
            self.state.sides_added = True
            self.hot = bool(self.state.routes)
            self.ready = True

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


def _no_write(data: bytes) -> None:
    raise RuntimeError("flask-rustpath's middleware does not support write(); return a body")


# How a kernel call finds its request: Flask's request context, its request's environ,
# the record there. Installed once, here, where the Flask face meets the native path.
configure_request_path(
    request_context_getter(),
    ["request", "environ"],
    RECORD_KEY,
    SideRule,
    failed_call,
    _no_write,
)
