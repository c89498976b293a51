"""Calling one side of a hot route: limits, locating the implementation, timing, errors.

Everything that runs an implementation goes through :func:`run_side`: the views,
shadow comparisons, the compare endpoint, the CLI and the parity helper.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from . import config
from .config import Side
from .errors import (
    BadInput,
    ImplementationError,
    LimitExceeded,
    RustPanic,
    RustUnavailable,
    is_rust_panic,
)
from .hot import HotRoute
from .targets import TargetUnavailable


@dataclass(frozen=True)
class Outcome:
    """A side's result and how long the implementation call took."""

    result: Any
    seconds: float


def run_side(
    route: HotRoute, side: Side, kwargs: Mapping[str, Any], *, limits: bool = True
) -> Outcome:
    """Run ``side`` of ``route``; every failure is raised as a :class:`HotRouteError`."""
    if limits:
        check_limits(route, side, kwargs)
    implementation = implementation_of(route, side)
    started = time.perf_counter()
    result = call(route, side, implementation, kwargs)
    return Outcome(result, time.perf_counter() - started)


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


def implementation_of(route: HotRoute, side: Side) -> Callable[..., Any]:
    if side == "python":
        return route.python
    try:
        return route.rust.resolve()
    except TargetUnavailable as exc:
        raise RustUnavailable(str(exc), target=exc.spec, reason=exc.reason) from None


def call(
    route: HotRoute, side: Side, implementation: Callable[..., Any], kwargs: Mapping[str, Any]
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


def results_match(route: HotRoute, python_result: Any, rust_result: Any) -> bool:
    """The route's ``compare=`` hook if it has one, else equality."""
    if route.compare is not None:
        return bool(route.compare(python_result, rust_result))
    return bool(python_result == rust_result)
