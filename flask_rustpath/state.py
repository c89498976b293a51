"""Per-app state on the Flask side: the app's runtime plus its JSON routes and URL checks.

Lives in ``app.extensions["rustpath"]``, so one :class:`~flask_rustpath.RustPath`
can serve several apps (app factories, tests) without sharing anything mutable. It
also tells the framework-free core how to find a request's record and an app's
runtime from Flask's contexts.
"""

from __future__ import annotations

import re

from flask import Flask, current_app, has_app_context
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from .core import record as records
from .core.config import AppSettings
from .core.errors import HotRouteError, InvalidArgument, Misconfigured, NotFoundJSON
from .core.errors import MethodNotAllowed as JSONMethodNotAllowed
from .core.record import RECORD_KEY, CallRecord
from .core.runtime import Runtime
from .core.sides import SIDES
from .flask_internals import request_context_getter
from .hot import HotRoute
from .pairing import SideRule
from .support.rules import fixed_start, loosen

EXTENSION_KEY = "rustpath"

_REPEATED_SLASHES = re.compile("/{2,}")


class RustPathState(Runtime):
    """Everything flask-rustpath keeps for one app: its runtime, and the URL side."""

    def __init__(self, app: Flask, settings: AppSettings) -> None:
        super().__init__(app.name, app.config, settings)
        self.url_map = app.url_map
        self.routes: dict[str, HotRoute] = {}  # JSON shorthand routes, by endpoint
        # Each side's URL prefix, and whether the paired views' side twins are added
        # (on the first request; see flask_rustpath.pairing.add_side_rules).
        self.side_prefixes = tuple((settings.prefix(side), side) for side in SIDES)
        self.sides_added = False
        # The crate modules whose freshness was checked (see extension._check_crates).
        self.crates_checked: set[str] = set()
        self._loose: Map | None = None

    # -- hot routes ----------------------------------------------------------------

    def add_route(self, route: HotRoute) -> None:
        self.add_kernel(route.kernel)
        self.routes[route.endpoint] = route

    def routing_error(self, exc: HTTPException, path: str) -> HotRouteError | None:
        """The JSON error for a 404/405 under a hot route's rule, or ``None``.

        ``path`` is the decoded path, after any side prefix was taken off.
        """
        loose = self._loose_map()
        if loose is None:
            return None
        if isinstance(exc, MethodNotAllowed):
            # Ours only if every rule the path matches under another method is a hot route.
            adapter = self.url_map.bind("")
            for method in exc.valid_methods or ():
                try:
                    endpoint, _ = adapter.match(path, method=method)
                except HTTPException:
                    continue
                if endpoint not in self.routes:
                    return None
            allowed = sorted(exc.valid_methods or ())
            return JSONMethodNotAllowed(f"{path} accepts {', '.join(allowed)}", allowed=allowed)
        if not isinstance(exc, NotFound):
            return None
        try:
            (endpoint, rule), values = loose.bind("").match(path, method="GET")
        except HTTPException:
            starts = {fixed_start(r.rule) for r in loose.iter_rules() if fixed_start(r.rule)}
            merged = _REPEATED_SLASHES.sub("/", path)  # the app may merge them too
            for start in starts:
                if merged == start or merged.startswith(start + "/"):
                    return NotFoundJSON(f"{path} fits no variant of a hot route here", route=start)
            return None
        got = ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
        return InvalidArgument(
            f"{path} does not fit {rule}: {got} is not a valid value for its converter",
            route=endpoint,
            rule=rule,
        )

    def _loose_map(self) -> Map | None:
        """The app's hot rules with converters loosened, built on first use (the URL map
        is complete by then: Flask refuses new rules once an app serves)."""
        if self._loose is None:
            endpoints = set(self.routes)
            loose = Map(strict_slashes=True, merge_slashes=False)
            for rule in self.url_map.iter_rules():
                if isinstance(rule, SideRule):
                    continue
                if rule.endpoint in endpoints and not rule.rule.startswith("/<"):
                    loose.add(
                        Rule(
                            loosen(rule.rule),
                            endpoint=(rule.endpoint, rule.rule),
                            methods=rule.methods,
                        )
                    )
            self._loose = loose
        return self._loose if any(True for _ in self._loose.iter_rules()) else None

    def check_rule(self, rule: Rule) -> None:
        """Refuse a URL rule that a side prefix would hide, or that collides with a hot
        route's rule; called for every rule the app adds, before and after init_app."""
        for side in SIDES:
            prefix = self.settings.prefix(side)
            if rule.rule == prefix or rule.rule.startswith(prefix + "/"):
                raise Misconfigured(
                    f"URL rule {rule.rule!r} is under {prefix}, which flask-rustpath reserves "
                    f"for the {side} variants of paired views; change the rule or "
                    f"RUSTPATH_{side.upper()}_PREFIX"
                )


def get_state(app: Flask | None = None) -> RustPathState:
    """The :class:`RustPathState` of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        state: RustPathState = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            f"flask-rustpath is not initialised on app {app.name!r}: call RustPath(app) "
            "or rustpath.init_app(app) first"
        ) from None
    return state


_request_context = request_context_getter()


def _record_of_flask_request() -> CallRecord | None:
    """The record of the request being served: the middleware's, or made by the first
    kernel call in a request context the middleware did not serve (a test's
    ``test_request_context``). Found through Flask's request context, which an
    ``async`` view's thread and a streamed body (``stream_with_context``) share with the
    request."""
    context = _request_context()
    if context is None:
        return None
    environ = context.request.environ
    record: CallRecord | None = environ.get(RECORD_KEY)
    if record is None:
        state: RustPathState | None = context.app.extensions.get(EXTENSION_KEY)
        if state is None:
            return None
        record = environ[RECORD_KEY] = CallRecord(state, None)
    return record


def _runtime_of_current_app() -> Runtime | None:
    if not has_app_context():
        return None
    state: RustPathState | None = current_app.extensions.get(EXTENSION_KEY)
    return state


records.locate_with(_record_of_flask_request, _runtime_of_current_app)
