"""The extension's own URLs, on one blueprint mounted at ``RUSTPATH_URL_PREFIX``.

- ``/``: the dashboard (kernels, live counts, a compare form);
- ``/compare/<kernel>?arg=value…``: both sides of a kernel on one input, as JSON; a
  POST takes the arguments as a JSON object (lists and dicts as themselves) or a
  form, and a query string takes a list or dict as JSON text. Each argument is
  converted by the kernel's annotation or, without one, by the URL converter of the
  kernel's JSON route (see :func:`.dashboard.tool_arguments`);
- ``/metrics``: Prometheus metrics, when prometheus-client is installed (else a 503
  naming the extra to install);
- the built-in kernels' JSON routes, when ``RUSTPATH_BUILTINS`` is true.

The dashboard and compare run the slow Python reference on request, so they answer
only when ``RUSTPATH_COMPARE`` is true (by default, in debug mode, or when
``RUSTPATH_DASHBOARD_DECORATOR`` puts them behind the app's own auth: that
decorator wraps both views, as ``@login_required`` wraps the app's own).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from .builtins import builtin_routes
from .core.comparison import compare_sides
from .core.errors import (
    HotRouteError,
    ImplementationError,
    MissingParameter,
    NotFoundJSON,
    json_response,
)
from .dashboard import compare_hidden, dashboard_view, tool_arguments
from .hot import make_hot_route
from .state import RustPathState
from .support.extras import missing_message
from .support.metrics import prometheus_available, render_prometheus

log = logging.getLogger("flask_rustpath")

NAME = "rustpath"


def make_blueprint(state: RustPathState) -> Blueprint:
    """The blueprint for one app (its routes depend on that app's settings)."""
    blueprint = Blueprint(NAME, __name__, template_folder="templates")

    def compare_view(kernel: str) -> WerkzeugResponse:
        # Its errors are returned, not raised: it is a JSON API, and an app's own
        # HTML page for a 404 or a 400 would replace the message naming what is wrong.
        try:
            return compare_kernel(kernel)
        except HotRouteError as exc:
            exc.negotiated = False  # a JSON endpoint answers JSON
            return exc.get_response()

    def compare_kernel(kernel: str) -> WerkzeugResponse:
        found = state.kernels.get(kernel)
        if found is None:
            raise NotFoundJSON(f"no kernel named {kernel!r}", kernel=kernel)
        try:
            arguments = tool_arguments(
                current_app, state, found, request.values, _json_object(found.name)
            )
        except TypeError as exc:  # positional-only parameters: nothing to name
            raise MissingParameter(str(exc), kernel=found.name, parameter=None) from None
        try:
            return json_response(compare_sides(state, found, arguments).to_json())
        except HTTPException:
            raise
        except Exception:
            log.exception("comparing kernel %r failed", found.name)
            raise ImplementationError(
                f"comparing kernel {found.name!r} failed; see the server log", kernel=found.name
            ) from None

    blueprint.add_url_rule("/", "dashboard", _guarded(state, dashboard_view))
    blueprint.add_url_rule(
        "/compare/<kernel>", "compare", _guarded(state, compare_view), methods=["GET", "POST"]
    )
    if state.settings.metrics and prometheus_available():

        def metrics_view() -> Response:
            state.metrics.flush()
            try:
                body, content_type = render_prometheus()
            except Exception:
                log.exception("rendering Prometheus metrics failed")
                raise MetricsUnavailable(
                    "metrics cannot be rendered here; see the server log"
                ) from None
            return Response(body, content_type=content_type)

        blueprint.add_url_rule("/metrics", "metrics", metrics_view)
    elif state.settings.metrics:

        def no_metrics_view() -> Response:
            # A scraper's error names what to install, rather than a bare 404.
            raise MetricsUnavailable(missing_message("prometheus_client", "metrics"))

        blueprint.add_url_rule("/metrics", "metrics", no_metrics_view)
    if state.settings.builtins:
        for rule, kernel in builtin_routes:
            route = make_hot_route(rule, kernel)
            state.routes[f"{NAME}.{route.endpoint}"] = route
            blueprint.add_url_rule(rule, route.endpoint, route.view(), methods=list(route.methods))
    return blueprint


def _guarded(state: RustPathState, view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` behind the app's own auth (``RUSTPATH_DASHBOARD_DECORATOR``), answering
    the hidden endpoints' 404 first, to everyone, while compare is off."""
    decorator = state.settings.dashboard_decorator
    inner = view if decorator is None else decorator(view)

    @functools.wraps(view)
    def guarded(**values: Any) -> Any:
        hidden = compare_hidden(state)
        return hidden if hidden is not None else inner(**values)

    return guarded


def _json_object(kernel: str) -> dict[str, Any] | None:
    """A POST's JSON body, which must be an object of arguments; ``None`` without one."""
    if not request.is_json:
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MissingParameter(
            "the request body must be a JSON object of arguments", kernel=kernel, parameter=None
        )
    return body


class MetricsUnavailable(HotRouteError):
    code = 503
    error = "metrics_unavailable"
