"""Per-app state: the hot routes registered on one Flask app and their URL rules.

Lives in ``app.extensions["rustpath"]``, so one :class:`~flask_rustpath.RustPath`
can serve several apps (app factories, tests) without sharing anything mutable.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from flask import Flask, current_app
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import HTTPException as RoutingHTTPException

from . import config
from .config import EXTENSION_KEY
from .dispatch import make_views
from .errors import HotRouteError, InvalidArgument
from .errors import MethodNotAllowed as JSONMethodNotAllowed
from .executor import BoundedExecutor
from .hot import RULE_VARIABLE, HotRoute, rule_variables
from .metrics import Metrics

ENDPOINT_PREFIX = "rustpath."
# Distinct inputs remembered per app so a mismatch is logged once, not per request.
MISMATCHES_REMEMBERED = 10_000


class RouteURL(NamedTuple):
    route: HotRoute
    kind: str  # "python", "rust", "plain" or "compare"
    rule: str
    endpoint: str


KINDS = ("python", "rust", "plain", "compare")


class RustPathState:
    """The hot routes of one app, with what is needed to answer routing errors in JSON."""

    def __init__(self) -> None:
        self.routes: dict[str, HotRoute] = {}
        self._urls: dict[tuple[str, str], RouteURL] = {}
        self.metrics = Metrics()
        self._lock = threading.Lock()
        self._executor: BoundedExecutor | None = None
        self._mismatches: set[tuple[str, str]] = set()
        # Hot rules with every converter loosened to a plain segment: a path that
        # matches here but not in the real URL map has an argument its converter refused.
        self._loose = Map(strict_slashes=True, merge_slashes=False)

    def check(self, app: Flask, routes: list[HotRoute]) -> None:
        """Raise, touching nothing, if any of ``routes`` cannot be registered on ``app``."""
        if app._got_first_request:
            raise RuntimeError(
                f"app {app.name!r} has already handled a request; declare hot routes before "
                "it serves (Flask freezes the URL map then)"
            )
        config.validate(app.config, routes)
        taken = dict(self.routes)
        for route in routes:
            if route.name in taken:
                raise ValueError(f"a hot route named {route.name!r} is already registered")
            for other in taken.values():
                if other.rule == route.rule:
                    hint = (
                        " (a built-in route; set RUSTPATH_BUILTINS = False to serve your own)"
                        if other.python.__module__ == "flask_rustpath.builtins"
                        else ""
                    )
                    raise ValueError(
                        f"{route.rule!r} is already served by hot route {other.name!r}{hint}"
                    )
            for url in self._plan(app, route):
                if url.endpoint in app.view_functions:
                    raise ValueError(f"app {app.name!r} already has an endpoint {url.endpoint!r}")
            taken[route.name] = route

    def register(self, app: Flask, routes: list[HotRoute]) -> None:
        """Add the URL rules of ``routes`` to ``app`` (whose state this is).

        Callers run :meth:`check` on every app and route first, so that a refusal
        happens before anything anywhere has changed.
        """
        for route in routes:
            self._add(app, route)

    def _add(self, app: Flask, route: HotRoute) -> None:
        views = make_views(route, self)
        for url in self._plan(app, route):
            methods = ["GET"] if url.kind == "compare" else list(route.methods)
            app.add_url_rule(url.rule, url.endpoint, views[url.kind], methods=methods)
            if url.kind != "plain" or not url.rule.startswith("/<"):
                # A plain rule that starts with a variable would claim every 404.
                self._loose.add(Rule(_loosen(url.rule), endpoint=(route.name, url.kind)))
            self._urls[route.name, url.kind] = url
        self.routes[route.name] = route

    def _plan(self, app: Flask, route: HotRoute) -> list[RouteURL]:
        rules = {
            "python": config.prefix(app.config, "python") + route.rule,
            "rust": config.prefix(app.config, "rust") + route.rule,
            "plain": route.rule,
            "compare": config.prefix(app.config, "url") + "/compare" + route.rule,
        }
        return [
            RouteURL(
                route,
                kind,
                rules[kind],
                ENDPOINT_PREFIX + (route.name if kind == "plain" else f"{kind}_{route.name}"),
            )
            for kind in KINDS
        ]

    def parse_arguments(
        self, app: Flask, route: HotRoute, raw: Mapping[str, str]
    ) -> dict[str, Any]:
        """Convert text arguments (from a form or a command line) as the URL would.

        Each variable is matched alone, by a one-variable rule with the same converter
        text and the app's own converters (custom ones included): ``abc`` is refused for
        ``<int:n>`` exactly as ``/sum_of_primes/abc`` is, and a ``/`` in one value cannot
        shift text into the next variable.
        """
        missing = [v.name for v in rule_variables(route.rule) if raw.get(v.name, "") == ""]
        if missing:
            raise InvalidArgument(
                f"missing argument(s) for {route.rule}: {', '.join(missing)}",
                route=route.name,
                rule=route.rule,
            )
        values: dict[str, Any] = {}
        for match in RULE_VARIABLE.finditer(route.rule):
            name, text = match["name"], raw[match["name"]]
            one = Map(
                [Rule("/" + match[0], endpoint=name)],
                converters=app.url_map.converters,
                merge_slashes=False,
            )
            try:
                _, converted = one.bind("").match("/" + text)
            except HTTPException:  # NotFound, or a redirect for a trailing slash
                raise InvalidArgument(
                    f"{text!r} is not a valid value for {name} in {route.rule}",
                    route=route.name,
                    rule=route.rule,
                ) from None
            values[name] = converted[name]
        return values

    def url_for_kind(self, route: HotRoute, kind: str) -> RouteURL:
        return self._urls[route.name, kind]

    def executor(self, app_config: Mapping[str, Any]) -> BoundedExecutor:
        """The app's shadow executor, sized from the config on first use."""
        with self._lock:
            if self._executor is None:
                self._executor = BoundedExecutor(
                    app_config["RUSTPATH_SHADOW_WORKERS"], app_config["RUSTPATH_SHADOW_QUEUE"]
                )
            return self._executor

    def first_mismatch(self, route: str, kwargs: Mapping[str, Any]) -> bool:
        """Whether this is the first mismatch seen for ``route`` on these inputs."""
        key = (route, repr(sorted(kwargs.items())))
        with self._lock:
            if key in self._mismatches:
                return False
            if len(self._mismatches) < MISMATCHES_REMEMBERED:
                self._mismatches.add(key)
            return True

    def routing_error(self, app: Flask, environ: Any, exc: HTTPException) -> HotRouteError | None:
        """The JSON error for a 404/405 on a hot route's URL, or ``None`` if it is not one."""
        path = environ.get("PATH_INFO") or "/"
        if isinstance(exc, MethodNotAllowed):
            # Ours only if the path really is one of our URLs under some other method.
            adapter = app.url_map.bind_to_environ(environ)
            for method in exc.valid_methods or ():
                try:
                    endpoint, _ = adapter.match(path, method=method)
                except RoutingHTTPException:
                    continue
                if str(endpoint).startswith(ENDPOINT_PREFIX):
                    allowed = sorted(exc.valid_methods or ())
                    return JSONMethodNotAllowed(
                        f"{path} accepts {', '.join(allowed)}", allowed=allowed
                    )
            return None
        if not isinstance(exc, NotFound):
            return None
        try:
            (name, kind), values = self._loose.bind("").match(path, method="GET")
        except RoutingHTTPException:
            return None
        rule = self.url_for_kind(self.routes[name], kind).rule
        got = ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
        return InvalidArgument(
            f"{path} does not fit {rule}: {got} is not a valid value for its converter",
            route=name,
            rule=rule,
        )


def _loosen(rule: str) -> str:
    def loose(match: re.Match[str]) -> str:
        converter = "path" if match["converter"] == "path" else "string"
        return f"<{converter}:{match['name']}>"

    return RULE_VARIABLE.sub(loose, rule)


def get_state(app: Flask | None = None) -> RustPathState:
    """The :class:`RustPathState` of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            f"flask-rustpath is not initialised on app {app.name!r}: call RustPath(app) "
            "or rustpath.init_app(app) first"
        ) from None
