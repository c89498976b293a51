"""The Flask extension: :class:`RustPath` and its ``init_app``."""

from __future__ import annotations

import logging
import weakref
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.routing import IntegerConverter, ValidationError

from . import config, crates
from .builtins import builtin_routes
from .cli import cli
from .config import EXTENSION_KEY
from .dashboard import register_dashboard
from .hot import HotRoute, HotRoutes
from .metrics import prometheus_available, render_prometheus
from .state import RustPathState, get_state

log = logging.getLogger("flask_rustpath")


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
        routes = [*(builtin_routes if app.config["RUSTPATH_BUILTINS"] is True else ()), *self]
        state = RustPathState()
        state.check(app, routes)  # everything is refused before anything is changed
        _refuse_oversized_integers(app)
        state.register(app, routes)
        app.before_request_funcs.setdefault(None, []).insert(0, _routing_error_as_json)
        if app.config["RUSTPATH_METRICS"] and prometheus_available():
            app.add_url_rule(
                config.prefix(app.config, "url") + "/metrics", "rustpath.metrics", _metrics_view
            )
        register_dashboard(app)
        app.cli.add_command(cli)
        _check_crates(app, routes)
        app.extensions[EXTENSION_KEY] = state
        self._apps.add(app)

    def stats(self, app: Flask | None = None) -> dict[str, Any]:
        """Counts and mean compute times per route and backend, in this process.

        ``{route: {"python": {"requests", "errors", "mean_ms"}, "rust": {...},
        "shadow": {"match", "mismatch", "error", "dropped", "timeout", "skipped"}}}``;
        across gunicorn workers, scrape the Prometheus endpoint instead.
        """
        return get_state(app).metrics.snapshot()

    def add(self, route: HotRoute) -> None:
        """Declare ``route`` and register it on every app initialised so far.

        All checks run before anything changes, so a refused declaration leaves
        neither the extension nor any app half-updated.
        """
        if route.name in {r.name for r in self}:
            raise ValueError(f"a hot route named {route.name!r} is already declared")
        apps = list(self._apps)
        for app in apps:
            get_state(app).check(app, [route])
        for app in apps:
            get_state(app).register(app, [route])
        super().add(route)


def _check_crates(app: Flask, routes: list[HotRoute]) -> None:
    """Development: rebuild changed crates on import and restart ``flask run`` when their
    sources change. Production: never compile; log every stale build at start-up."""
    autobuild = app.config["RUSTPATH_AUTOBUILD"]
    if autobuild is None:
        autobuild = app.debug
    modules = sorted({route.rust.module for route in routes if route.rust.module})
    reports = [crates.freshness(module) for module in modules]
    # Crates the hook can rebuild: editable installs of a crate directory. Our own
    # module is imported before any hook could see it.
    rebuildable = {
        report.name
        for report in reports
        if report.crate_dir is not None
        and crates.is_crate_dir(report.crate_dir)
        and not report.name.startswith("flask_rustpath")
    }
    if autobuild and rebuildable and crates.enable_autobuild():
        crates.watch_crate_sources(
            {r.crate_dir for r in reports if r.name in rebuildable and r.crate_dir}
        )
    else:
        rebuildable = set()
    for report in reports:
        if report.fresh is False and report.name not in rebuildable:
            log.warning(
                "Rust module %s is stale: %s (crate %s)",
                report.name,
                report.detail,
                report.crate_dir,
            )


def _metrics_view() -> Response:
    body, content_type = render_prometheus()
    return Response(body, content_type=content_type)


def _routing_error_as_json() -> Response | None:
    """Answer 404/405 on hot-route URLs in JSON; leave every other URL alone.

    Runs first among ``before_request`` functions: Flask has matched the URL by then
    but raises the routing error only afterwards, so the app's own error handlers,
    whatever they are and whenever they were registered, still see every other URL.
    """
    exc = request.routing_exception
    if exc is None:
        return None
    error = get_state().routing_error(current_app, request.environ, exc)
    return error.to_response() if error is not None else None


class _BoundedIntegerConverter(IntegerConverter):
    """werkzeug's ``int`` converter, refusing (404) rather than crashing (500) on a
    number too long for ``int()`` (Python's digit limit raises ``ValueError``)."""

    def to_python(self, value: str) -> Any:
        try:
            return super().to_python(value)
        except ValueError:
            raise ValidationError() from None


def _refuse_oversized_integers(app: Flask) -> None:
    if app.url_map.converters.get("int") is IntegerConverter:
        app.url_map.converters["int"] = _BoundedIntegerConverter
