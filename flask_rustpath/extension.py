"""The Flask extension: :class:`RustPath` and its ``init_app``."""

from __future__ import annotations

import weakref
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import config
from .builtins import builtin_routes
from .cli import cli
from .config import EXTENSION_KEY
from .hot import HotRoute, HotRoutes
from .metrics import prometheus_available, render_prometheus
from .state import RustPathState, get_state


class RustPath(HotRoutes):
    """Serve hot routes from Rust, with the Python they replace beside them.

    ::

        rustpath = RustPath(app)          # or RustPath() + rustpath.init_app(app)

        @rustpath.hot("/sum_of_primes/<int:n>", rust="my_crate:sum_of_primes")
        def sum_of_primes(n: int) -> int:
            return sum(i for i in range(2, n) if is_prime(i))

    Each route is served at ``/python<rule>``, ``/rust<rule>`` and ``<rule>`` (on the
    configured backend). Declarations live on this object and are registered on every
    app it initialises, including apps initialised before the declaration; all
    per-app state lives in ``app.extensions["rustpath"]``.
    """

    def __init__(self, app: Flask | None = None) -> None:
        super().__init__()
        # Apps already initialised, so routes declared later reach them too. Weak, so
        # the extension never keeps an app alive.
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"flask-rustpath is already initialised on app {app.name!r}")
        config.apply_defaults(app.config)
        routes = [*(builtin_routes if app.config["RUSTPATH_BUILTINS"] else ()), *self]
        config.validate(app.config, routes)
        state = RustPathState()
        app.extensions[EXTENSION_KEY] = state
        for route in routes:
            state.register(app, route)
        _answer_routing_errors_in_json(app)
        app.cli.add_command(cli)
        if app.config["RUSTPATH_METRICS"] and prometheus_available():
            app.add_url_rule(
                config.prefix(app.config, "url") + "/metrics", "rustpath.metrics", _metrics_view
            )
        self._apps.add(app)

    def stats(self, app: Flask | None = None) -> dict[str, Any]:
        """Counts and mean compute times per route and backend, in this process.

        ``{route: {"python": {"requests", "errors", "mean_ms"}, "rust": {...},
        "shadow": {"match", "mismatch", "error", "dropped", "timeout", "skipped"}}}``;
        across gunicorn workers, scrape the Prometheus endpoint instead.
        """
        return get_state(app).metrics.snapshot()

    def add(self, route: HotRoute) -> None:
        super().add(route)
        for app in list(self._apps):
            config.validate(app.config, [route])
            get_state(app).register(app, route)


def _metrics_view() -> Response:
    body, content_type = render_prometheus()
    return Response(body, content_type=content_type)


def _answer_routing_errors_in_json(app: Flask) -> None:
    """Answer 404/405 on hot-route URLs in JSON; leave every other URL's errors alone.

    A handler the app registered earlier for these codes still answers for other URLs.
    """
    for code in (404, 405):
        previous = next(iter(app.error_handler_spec[None][code].values()), None)

        def handler(exc: HTTPException, previous: Any = previous) -> Any:
            error = get_state().routing_error(request.path, exc)
            if error is not None:
                return error.to_response()
            return previous(exc) if previous is not None else exc

        app.register_error_handler(code, handler)
