"""The extension's own URLs, on one blueprint mounted at ``RUSTPATH_URL_PREFIX``.

- ``/``: the dashboard (kernels, live counts, a compare form);
- ``/compare/<kernel>?arg=value…``: both sides of a kernel on one input, as JSON;
- ``/metrics``: Prometheus metrics, when prometheus-client is installed (else a 503
  naming the extra to install);
- the built-in kernels' JSON routes, when ``RUSTPATH_BUILTINS`` is true.

The dashboard and compare run the slow Python reference on request, so they answer
only when ``RUSTPATH_COMPARE`` is true (by default, in debug mode).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from .builtins import builtin_routes
from .core.comparison import compare_sides
from .core.errors import (
    HotRouteError,
    ImplementationError,
    NotFoundJSON,
    json_response,
)
from .core.parameters import kernel_parameters
from .dashboard import dashboard_view, require_compare
from .hot import make_hot_route, read_parameters
from .state import RustPathState
from .support.extras import missing_message
from .support.metrics import prometheus_available, render_prometheus

log = logging.getLogger("flask_rustpath")

NAME = "rustpath"


def make_blueprint(state: RustPathState) -> Blueprint:
    """The blueprint for one app (its routes depend on that app's settings)."""
    blueprint = Blueprint(NAME, __name__, template_folder="templates")
    blueprint.add_url_rule("/", "dashboard", dashboard_view)

    def compare_view(kernel: str) -> WerkzeugResponse:
        require_compare(state)
        found = state.kernels.get(kernel)
        if found is None:
            raise NotFoundJSON(f"no kernel named {kernel!r}", kernel=kernel)
        arguments = read_parameters(found.name, kernel_parameters(found))
        try:
            return json_response(compare_sides(state, found, arguments).to_json())
        except HotRouteError as exc:
            exc.negotiated = False  # a JSON endpoint answers JSON
            raise
        except HTTPException:
            raise
        except Exception:
            log.exception("comparing kernel %r failed", found.name)
            raise ImplementationError(
                f"comparing kernel {found.name!r} failed; see the server log", kernel=found.name
            ) from None

    blueprint.add_url_rule("/compare/<kernel>", "compare", compare_view)
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


class MetricsUnavailable(HotRouteError):
    code = 503
    error = "metrics_unavailable"
