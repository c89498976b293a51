"""The views of a hot route: ``/python<rule>``, ``/rust<rule>``, ``<rule>`` and the
compare endpoint. Each answers JSON, names the side that answered and counts itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Response, current_app

from . import config
from .calling import Outcome, run_side
from .comparison import compare_sides
from .config import EXTENSION_KEY, Side
from .errors import HotRouteError, ImplementationError, NotEnabled
from .hot import HotRoute
from .shadow import shadow

if TYPE_CHECKING:
    from .state import RustPathState

BACKEND_HEADER = "X-RustPath-Backend"
FALLBACK_HEADER = "X-RustPath-Fallback"

View = Callable[..., Response]


def make_views(route: HotRoute) -> dict[str, View]:
    """The view functions of ``route``: ``"python"``, ``"rust"``, ``"plain"``, ``"compare"``."""

    def python_view(**kwargs: Any) -> Response:
        return serve(route, "python", kwargs)

    def rust_view(**kwargs: Any) -> Response:
        return serve(route, "rust", kwargs)

    def plain_view(**kwargs: Any) -> Response:
        try:
            backend = config.backend_for(current_app.config, route)
        except HotRouteError as err:
            return err.to_response()
        if backend == "python":
            return serve(route, "python", kwargs)
        if not route.rust.available:
            return serve(route, "python", kwargs, fallback=True)
        return serve(route, "rust", kwargs, shadowed=backend == "shadow")

    def compare_view(**kwargs: Any) -> Response:
        try:
            if not config.compare_enabled(current_app.config, current_app.debug):
                raise NotEnabled("the compare endpoints are off; set RUSTPATH_COMPARE = True")
            return current_app.json.response(compare_sides(route, kwargs).to_json())
        except HotRouteError as err:
            return err.to_response()

    return {"python": python_view, "rust": rust_view, "plain": plain_view, "compare": compare_view}


def serve(
    route: HotRoute,
    side: Side,
    kwargs: dict[str, Any],
    *,
    fallback: bool = False,
    shadowed: bool = False,
) -> Response:
    """Answer with ``side``'s result as ``{"result": ...}``, or with a JSON error.

    Headers name the side that answered and, on success, its compute time in
    ``Server-Timing`` (milliseconds, the implementation call only).
    """
    state: RustPathState = current_app.extensions[EXTENSION_KEY]
    outcome: Outcome | None = None
    try:
        outcome = run_side(route, side, kwargs)
        response = _result_response(route, side, outcome.result)
        response.headers["Server-Timing"] = (
            f'{side};dur={outcome.seconds * 1000:.3f};desc="{route.name}"'
        )
        state.metrics.request(route.name, side, outcome.seconds, None)
    except HotRouteError as err:
        response = err.to_response()
        state.metrics.request(route.name, side, None, err.code)
    response.headers[BACKEND_HEADER] = side
    if fallback:
        response.headers[FALLBACK_HEADER] = "rust-unavailable"
    if shadowed and outcome is not None:
        shadow(state, route, kwargs, outcome.result)
    return response


def _result_response(route: HotRoute, side: Side, result: Any) -> Response:
    try:
        return current_app.json.response({"result": result})
    except TypeError as exc:
        raise ImplementationError(
            f"the {side} implementation of {route.name!r} returned a value JSON cannot "
            f"encode: {exc}",
            backend=side,
        ) from None
