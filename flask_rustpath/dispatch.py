"""Serving a hot route: the three views, limits, calling a side, timing, error mapping."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app

from . import config
from .config import Side
from .errors import (
    BadInput,
    HotRouteError,
    ImplementationError,
    LimitExceeded,
    RustPanic,
    RustUnavailable,
    is_rust_panic,
)
from .hot import HotRoute
from .targets import TargetUnavailable

BACKEND_HEADER = "X-RustPath-Backend"
FALLBACK_HEADER = "X-RustPath-Fallback"

View = Callable[..., Response]


def make_views(route: HotRoute) -> dict[str, View]:
    """The view functions of ``route``, keyed ``"python"``, ``"rust"`` and ``"plain"``."""

    def python_view(**kwargs: Any) -> Response:
        return serve(route, "python", kwargs)

    def rust_view(**kwargs: Any) -> Response:
        return serve(route, "rust", kwargs)

    def plain_view(**kwargs: Any) -> Response:
        try:
            side = config.backend_for(current_app.config, route)
        except HotRouteError as err:
            return err.to_response()
        if side == "rust" and not route.rust.available:
            return serve(route, "python", kwargs, fallback=True)
        return serve(route, side, kwargs)

    return {"python": python_view, "rust": rust_view, "plain": plain_view}


def serve(
    route: HotRoute, side: Side, kwargs: dict[str, Any], *, fallback: bool = False
) -> Response:
    """Answer with ``side``'s result as ``{"result": ...}``, or with a JSON error.

    Headers name the side that answered and, on success, its compute time in
    ``Server-Timing`` (milliseconds, the implementation call only).
    """
    try:
        check_limits(route, side, kwargs)
        implementation = _implementation(route, side)
        started = time.perf_counter()
        result = call(route, side, implementation, kwargs)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response = _result_response(route, side, result)
        response.headers["Server-Timing"] = f'{side};dur={elapsed_ms:.3f};desc="{route.name}"'
    except HotRouteError as err:
        response = err.to_response()
    response.headers[BACKEND_HEADER] = side
    if fallback:
        response.headers[FALLBACK_HEADER] = "rust-unavailable"
    return response


def check_limits(route: HotRoute, side: Side, kwargs: Mapping[str, Any]) -> None:
    for argument, limit in config.limits_for(current_app.config, route, side).items():
        value = kwargs.get(argument)
        if isinstance(value, (int, float)) and value > limit:
            raise LimitExceeded(
                f"{argument}={value} is above the {side} limit of {limit} for {route.name!r}",
                argument=argument,
                limit=limit,
                backend=side,
            )


def call(
    route: HotRoute, side: Side, implementation: Callable[..., Any], kwargs: dict[str, Any]
) -> Any:
    """Call one side, turning everything it can raise into a :class:`HotRouteError`.

    ``ValueError``/``OverflowError`` mean the input was refused (400). Any other
    exception is a bug on that side (500, logged with its traceback). A Rust panic
    arrives as PyO3's ``PanicException``, a ``BaseException``: it is caught here on
    purpose (500) so the worker keeps serving, while ``KeyboardInterrupt`` and
    ``SystemExit`` still propagate.
    """
    try:
        return implementation(**kwargs)
    except (ValueError, OverflowError) as exc:
        raise BadInput(str(exc), backend=side) from exc
    except Exception as exc:
        current_app.logger.exception("%s side of hot route %r raised", side, route.name)
        raise ImplementationError(
            f"the {side} implementation of {route.name!r} failed: {type(exc).__name__}",
            backend=side,
        ) from exc
    except BaseException as exc:
        if not is_rust_panic(exc):
            raise
        current_app.logger.error("Rust panic in hot route %r: %s", route.name, exc)
        raise RustPanic(f"the Rust implementation of {route.name!r} panicked: {exc}") from None


def _implementation(route: HotRoute, side: Side) -> Callable[..., Any]:
    if side == "python":
        return route.python
    try:
        return route.rust.resolve()
    except TargetUnavailable as exc:
        raise RustUnavailable(str(exc), target=exc.spec, reason=exc.reason) from None


def _result_response(route: HotRoute, side: Side, result: Any) -> Response:
    try:
        return current_app.json.response({"result": result})
    except TypeError as exc:
        raise ImplementationError(
            f"the {side} implementation of {route.name!r} returned a value JSON cannot "
            f"encode: {exc}",
            backend=side,
        ) from None
