"""Shadow mode: Rust answers; for a sample of requests Python runs too, off the
response's path, and the two results are compared.

The response never waits for, or changes because of, the Python side: its
exceptions, its queue being full and its taking too long are counted, not raised.
A mismatch is logged once per distinct input, with both results, and counted.
``RUSTPATH_SHADOW_RAISE`` runs the comparison inline and raises on a mismatch, so a
test suite fails loudly.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask, current_app

from . import config
from .calling import check_limits, results_match, run_side
from .errors import HotRouteError, LimitExceeded
from .executor import BoundedExecutor
from .hot import HotRoute
from .metrics import Metrics


class ShadowContext(Protocol):
    """What shadow mode needs from the app's state (``RustPathState`` provides it)."""

    metrics: Metrics

    def executor(self, app_config: Mapping[str, Any]) -> BoundedExecutor: ...

    def first_mismatch(self, route: str, kwargs: Mapping[str, Any]) -> bool: ...


class ShadowMismatch(AssertionError):
    """Python and Rust disagreed (raised only with ``RUSTPATH_SHADOW_RAISE``)."""


def shadow(
    state: ShadowContext, route: HotRoute, kwargs: Mapping[str, Any], rust_result: Any
) -> None:
    """Maybe compare Python with ``rust_result`` for this request (sampled, bounded)."""
    app_config = current_app.config
    rate = config.shadow_rate_for(app_config, route)
    if rate == 0 or (rate < 1 and random.random() >= rate):
        return
    try:
        check_limits(route, "python", kwargs)
    except LimitExceeded:
        state.metrics.shadow(route.name, "skipped")  # Python would take too long here
        return
    if app_config["RUSTPATH_SHADOW_RAISE"]:
        _compare(current_app, state, route, dict(kwargs), rust_result, raise_mismatch=True)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    timeout = float(app_config["RUSTPATH_SHADOW_TIMEOUT"])
    arguments = dict(kwargs)

    def job(waited: float) -> None:
        if waited > timeout:
            state.metrics.shadow(route.name, "timeout")
            return
        with app.app_context():
            _compare(app, state, route, arguments, rust_result, raise_mismatch=False)

    if not state.executor(app_config).submit(job):
        state.metrics.shadow(route.name, "dropped")


def _compare(
    app: Flask,
    state: ShadowContext,
    route: HotRoute,
    kwargs: dict[str, Any],
    rust_result: Any,
    *,
    raise_mismatch: bool,
) -> None:
    try:
        python_result = run_side(route, "python", kwargs, limits=False).result
        same = results_match(route, python_result, rust_result)
    except HotRouteError:
        state.metrics.shadow(route.name, "error")  # logged by run_side
        return
    except Exception:
        app.logger.exception("compare hook of hot route %r raised", route.name)
        state.metrics.shadow(route.name, "error")
        return
    if same:
        state.metrics.shadow(route.name, "match")
        return
    state.metrics.shadow(route.name, "mismatch")
    message = (
        f"shadow mismatch on hot route {route.name!r} for {kwargs!r}: "
        f"python={python_result!r} rust={rust_result!r}"
    )
    if state.first_mismatch(route.name, kwargs):
        app.logger.warning("%s", message)
    if raise_mismatch:
        raise ShadowMismatch(message)
