"""Per-app state: the hot routes registered on one Flask app and their URL rules.

Lives in ``app.extensions["rustpath"]``, so one :class:`~flask_rustpath.RustPath`
can serve several apps (app factories, tests) without sharing anything mutable.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

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
from .hot import RULE_VARIABLE, HotRoute
from .metrics import Metrics

ENDPOINT_PREFIX = "rustpath."
# Distinct inputs remembered per app so a mismatch is logged once, not per request.
MISMATCHES_REMEMBERED = 10_000


class RouteURL(NamedTuple):
    route: HotRoute
    kind: str  # "python", "rust", "plain" or "compare"
    rule: str
    endpoint: str


class RustPathState:
    """The hot routes of one app, with what is needed to answer routing errors in JSON."""

    def __init__(self) -> None:
        self.routes: dict[str, HotRoute] = {}
        self.urls: list[RouteURL] = []
        self.metrics = Metrics()
        self._lock = threading.Lock()
        self._executor: BoundedExecutor | None = None
        self._mismatches: set[tuple[str, str]] = set()
        # The same rules with every converter loosened to a plain segment: a path that
        # matches here but not in the real URL map has a bad argument or method.
        self._loose = Map(strict_slashes=False, merge_slashes=False)

    def register(self, app: Flask, route: HotRoute) -> None:
        """Add ``route``'s three URL rules to ``app`` (whose state this is)."""
        if route.name in self.routes:
            raise ValueError(f"a hot route named {route.name!r} is already registered on this app")
        for other in self.routes.values():
            if other.rule == route.rule:
                hint = (
                    " (a built-in route; set RUSTPATH_BUILTINS = False to serve your own)"
                    if other.python.__module__ == "flask_rustpath.builtins"
                    else ""
                )
                raise ValueError(
                    f"{route.rule!r} is already served by hot route {other.name!r}{hint}"
                )
        views = make_views(route)
        rules = {
            "python": config.prefix(app.config, "python") + route.rule,
            "rust": config.prefix(app.config, "rust") + route.rule,
            "plain": route.rule,
            "compare": config.prefix(app.config, "url") + "/compare" + route.rule,
        }
        for kind, rule in rules.items():
            endpoint = ENDPOINT_PREFIX + (
                route.name if kind == "plain" else f"{kind}_{route.name}"
            )
            methods = ["GET"] if kind == "compare" else list(route.methods)
            app.add_url_rule(rule, endpoint, views[kind], methods=methods)
            self._loose.add(Rule(_loosen(rule), endpoint=(route.name, kind)))
            self.urls.append(RouteURL(route, kind, rule, endpoint))
        self.routes[route.name] = route

    def parse_arguments(
        self, app: Flask, route: HotRoute, raw: Mapping[str, str]
    ) -> dict[str, Any]:
        """Convert text arguments (from a form or a command line) with the rule's converters.

        The plain rule is filled in and matched against the app's URL map, so exactly
        the converters that serve requests decide.
        """
        missing = sorted(route.arguments - set(raw))
        if missing:
            raise InvalidArgument(f"missing argument(s) for {route.rule}: {', '.join(missing)}")

        def fill(match: re.Match[str]) -> str:
            safe = "/" if match["converter"] == "path" else ""
            return quote(str(raw[match["name"]]), safe=safe)

        path = RULE_VARIABLE.sub(fill, route.rule)
        plain = self.url_for_kind(route, "plain")
        try:
            endpoint, values = app.url_map.bind("localhost").match(path, method="GET")
        except RoutingHTTPException:
            endpoint, values = None, {}
        if endpoint != plain.endpoint:
            got = ", ".join(f"{k}={v!r}" for k, v in sorted(raw.items()))
            raise InvalidArgument(
                f"{got} does not fit {route.rule}", route=route.name, rule=route.rule
            )
        return values

    def url_for_kind(self, route: HotRoute, kind: str) -> RouteURL:
        return next(url for url in self.urls if url.route is route and url.kind == kind)

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

    def routing_error(self, path: str, exc: HTTPException) -> HotRouteError | None:
        """The JSON error for a 404/405 on a hot route's URL, or ``None`` if it is not one."""
        if not isinstance(exc, (NotFound, MethodNotAllowed)):
            return None
        try:
            (name, kind), values = self._loose.bind("").match(path, method="GET")
        except RoutingHTTPException:
            return None
        route = self.routes[name]
        rule = self.url_for_kind(route, kind).rule
        if isinstance(exc, MethodNotAllowed):
            allowed = sorted(exc.valid_methods or route.methods)
            return JSONMethodNotAllowed(f"{rule} accepts {', '.join(allowed)}", allowed=allowed)
        got = ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
        return InvalidArgument(
            f"{path} does not fit {rule}: {got} is not a valid value for its converter",
            route=route.name,
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
