"""The views of a hot route: ``/python<rule>``, ``/rust<rule>``, ``<rule>`` and the
compare endpoint. Each answers JSON, names the side that answered and counts itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app

from . import config
from .calling import Outcome, run_side
from .comparison import compare_sides
from .config import Side
from .errors import HotRouteError, ImplementationError, InternalError, NotEnabled
from .hot import HotRoute
from .shadow import ShadowContext, ShadowMismatch, shadow

BACKEND_HEADER = "X-RustPath-Backend"
FALLBACK_HEADER = "X-RustPath-Fallback"

View = Callable[..., Response]


def make_views(route: HotRoute, context: ShadowContext) -> dict[str, View]:
    """The view functions of ``route``: ``"python"``, ``"rust"``, ``"plain"``, ``"compare"``."""

    def python_view(**kwargs: Any) -> Response:
        return serve(route, "python", kwargs, context)

    def rust_view(**kwargs: Any) -> Response:
        return serve(route, "rust", kwargs, context)

    def plain_view(**kwargs: Any) -> Response:
        try:
            backend = config.backend_for(current_app.config, route)
        except HotRouteError as err:
            return err.to_response()
        if backend == "python":
            return serve(route, "python", kwargs, context)
        if not route.rust.available:
            return serve(route, "python", kwargs, context, fallback=True)
        return serve(route, "rust", kwargs, context, shadowed=backend == "shadow")

    def compare_view(**kwargs: Any) -> Response:
        try:
            if not config.compare_enabled(current_app.config, current_app.debug):
                raise NotEnabled("the compare endpoints are off; set RUSTPATH_COMPARE = True")
            return current_app.json.response(compare_sides(route, kwargs).to_json())
        except HotRouteError as err:
            return err.to_response()
        except Exception:
            return _internal_error(route)

    return {"python": python_view, "rust": rust_view, "plain": plain_view, "compare": compare_view}


def serve(
    route: HotRoute,
    side: Side,
    kwargs: dict[str, Any],
    context: ShadowContext,
    *,
    fallback: bool = False,
    shadowed: bool = False,
) -> Response:
    """Answer with ``side``'s result as ``{"result": ...}``, or with a JSON error.

    Headers name the side that answered and, on success, its compute time in
    ``Server-Timing`` (milliseconds, the implementation call only).
    """
    try:
        outcome: Outcome = run_side(route, side, kwargs)
        response = _result_response(route, side, outcome.result)
        response.headers["Server-Timing"] = (
            f'{side};dur={outcome.seconds * 1000:.3f};desc="{route.name}"'
        )
        context.metrics.request(route.name, side, outcome.seconds, None)
        if shadowed:
            shadow(context, route, kwargs, outcome.result)
    except HotRouteError as err:
        response = err.to_response()
        context.metrics.request(route.name, side, None, err.code)
    except ShadowMismatch:
        raise  # RUSTPATH_SHADOW_RAISE: meant to fail the test that sent the request
    except Exception:
        response = _internal_error(route)
        context.metrics.request(route.name, side, None, InternalError.code)
    response.headers[BACKEND_HEADER] = side
    if fallback:
        response.headers[FALLBACK_HEADER] = "rust-unavailable"
    return response


def _internal_error(route: HotRoute) -> Response:
    """A failure of flask-rustpath itself: still JSON, with the traceback in the log."""
    current_app.logger.exception("flask-rustpath failed serving hot route %r", route.name)
    return InternalError(
        f"internal error serving {route.name!r}; see the server log"
    ).to_response()


def _result_response(route: HotRoute, side: Side, result: Any) -> Response:
    try:
        return current_app.json.response({"result": result})
    except (TypeError, ValueError) as exc:  # unencodable, circular, or an int too long
        raise ImplementationError(
            f"the {side} implementation of {route.name!r} returned a value JSON cannot "
            f"encode: {exc}",
            backend=side,
        ) from None
