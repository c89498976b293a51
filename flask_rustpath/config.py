"""The ``RUSTPATH_*`` configuration keys and how a route's effective settings follow from them.

Settings are read from ``app.config`` when a request is served, so tests and
factories may change them after :meth:`RustPath.init_app`; only the URL prefixes
(baked into the URL map) and ``RUSTPATH_BUILTINS`` are read once, at ``init_app``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any

from .errors import Misconfigured
from .hot import BACKENDS, SIDES, Backend, HotRoute, Side

__all__ = ["BACKENDS", "DEFAULTS", "EXTENSION_KEY", "SIDES", "Backend", "Side"]

EXTENSION_KEY = "rustpath"

DEFAULTS: Mapping[str, Any] = {
    # What answers a hot route's plain rule: "rust", "python" or "shadow".
    "RUSTPATH_BACKEND": "rust",
    # Per-route override of RUSTPATH_BACKEND: {"route_name": "python"}.
    "RUSTPATH_BACKENDS": {},
    # Register the built-in hot routes (sum_of_primes).
    "RUSTPATH_BUILTINS": True,
    # URL prefixes of the paired endpoints.
    "RUSTPATH_PYTHON_PREFIX": "/python",
    "RUSTPATH_RUST_PREFIX": "/rust",
    # Per-route limits, merged over the route's own: {"route": {"python": {"n": 10**6}}}.
    "RUSTPATH_LIMITS": {},
    # Shadow mode: fraction of plain-rule requests also run on Python and compared.
    "RUSTPATH_SHADOW_RATE": 0.1,
    "RUSTPATH_SHADOW_RATES": {},  # per route: {"route": 1.0}
    # Background threads and queue slots for shadow calls (read on first shadow call);
    # a call finding the queue full is dropped and counted.
    "RUSTPATH_SHADOW_WORKERS": 1,
    "RUSTPATH_SHADOW_QUEUE": 32,
    # Seconds a shadow call may wait in the queue before it is given up (counted).
    "RUSTPATH_SHADOW_TIMEOUT": 30.0,
    # Run shadow calls inline and raise ShadowMismatch on a mismatch: for tests.
    "RUSTPATH_SHADOW_RAISE": False,
    # The compare endpoint and the dashboard run slow Python on request: None means on
    # only in debug mode.
    "RUSTPATH_COMPARE": None,
    # Where the compare endpoints, the dashboard and the metrics live (read at init_app).
    "RUSTPATH_URL_PREFIX": "/rustpath",
    # Serve Prometheus metrics at <RUSTPATH_URL_PREFIX>/metrics when prometheus-client
    # is installed (read at init_app).
    "RUSTPATH_METRICS": True,
    # Rebuild your own crates (flask rustpath new/build) when their sources changed, on
    # import, with maturin's import hook. None means on in debug mode (read at init_app).
    "RUSTPATH_AUTOBUILD": None,
}


def apply_defaults(config: MutableMapping[str, Any]) -> None:
    for key, value in DEFAULTS.items():
        config.setdefault(key, value.copy() if isinstance(value, dict) else value)


def prefix(config: Mapping[str, Any], part: str) -> str:
    """The URL prefix of ``part`` (``python``, ``rust`` or ``url``): ``/…``, no trailing slash."""
    key = f"RUSTPATH_{part.upper()}_PREFIX"
    value = config[key]
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.strip("/") == ""
        or "<" in value
    ):
        raise Misconfigured(f"{key} must be a fixed path such as '/{part}', got {value!r}")
    return value.rstrip("/")


def backend_for(config: Mapping[str, Any], route: HotRoute) -> Backend:
    """What serves ``route``'s plain rule."""
    value, source = _route_setting(
        config, route, "RUSTPATH_BACKENDS", "backend", "RUSTPATH_BACKEND"
    )
    if value not in BACKENDS:
        raise Misconfigured(f"{source} must be one of {', '.join(BACKENDS)}; got {value!r}")
    return value


def shadow_rate_for(config: Mapping[str, Any], route: HotRoute) -> float:
    """Fraction of ``route``'s shadow-mode requests that Python also runs, in [0, 1]."""
    value, source = _route_setting(
        config, route, "RUSTPATH_SHADOW_RATES", "shadow_rate", "RUSTPATH_SHADOW_RATE"
    )
    if not _is_number(value) or not 0 <= value <= 1:
        raise Misconfigured(f"{source} must be a number from 0 to 1; got {value!r}")
    return float(value)


def limits_for(config: Mapping[str, Any], route: HotRoute, side: Side) -> Mapping[str, float]:
    """Upper bounds on ``route``'s arguments when ``side`` serves it."""
    all_overrides = _mapping(config, "RUSTPATH_LIMITS")
    if route.name not in all_overrides:
        return route.limits.get(side, {})  # checked when the route was declared
    overrides = all_overrides[route.name]
    if not isinstance(overrides, Mapping) or not all(
        s in SIDES and isinstance(bounds, Mapping) for s, bounds in overrides.items()
    ):
        raise Misconfigured(
            f"RUSTPATH_LIMITS[{route.name!r}] must map 'python'/'rust' to "
            f"{{argument: limit}}; got {overrides!r}"
        )
    limits = {**route.limits.get(side, {}), **overrides.get(side, {})}
    for argument, limit in limits.items():
        if argument not in route.arguments:
            raise Misconfigured(
                f"RUSTPATH_LIMITS[{route.name!r}] limits {argument!r}, which {route.rule} "
                "does not have"
            )
        if not _is_number(limit) or math.isnan(limit):
            raise Misconfigured(
                f"limit for {argument!r} on the {side} side of {route.name!r} must be a "
                f"number, got {limit!r}"
            )
    return limits


def compare_enabled(config: Mapping[str, Any], debug: bool) -> bool:
    """Whether the compare endpoints and the dashboard answer (default: in debug mode)."""
    value = config["RUSTPATH_COMPARE"]
    return debug if value is None else bool(value)


def validate(config: Mapping[str, Any], routes: list[HotRoute]) -> None:
    """Fail at start-up, not on the first request, when the configuration is wrong.

    Per-route settings may name routes declared later, so unknown names pass here;
    each route's own settings are checked when it is registered.
    """
    prefixes = {part: prefix(config, part) for part in ("python", "rust", "url")}
    if len(set(prefixes.values())) < len(prefixes):
        raise Misconfigured(
            "RUSTPATH_PYTHON_PREFIX, RUSTPATH_RUST_PREFIX and RUSTPATH_URL_PREFIX must differ"
        )
    for key in ("RUSTPATH_BUILTINS", "RUSTPATH_METRICS", "RUSTPATH_SHADOW_RAISE"):
        if not isinstance(config[key], bool):
            raise Misconfigured(f"{key} must be True or False; got {config[key]!r}")
    if config["RUSTPATH_AUTOBUILD"] not in (None, True, False):
        raise Misconfigured(
            f"RUSTPATH_AUTOBUILD must be None, True or False; got {config['RUSTPATH_AUTOBUILD']!r}"
        )
    if config["RUSTPATH_COMPARE"] not in (None, True, False):
        raise Misconfigured(
            f"RUSTPATH_COMPARE must be None, True or False; got {config['RUSTPATH_COMPARE']!r}"
        )
    for key in ("RUSTPATH_SHADOW_WORKERS", "RUSTPATH_SHADOW_QUEUE"):
        if not _is_number(config[key]) or not isinstance(config[key], int) or config[key] < 1:
            raise Misconfigured(f"{key} must be a positive integer; got {config[key]!r}")
    timeout = config["RUSTPATH_SHADOW_TIMEOUT"]
    if not _is_number(timeout) or not timeout > 0:
        raise Misconfigured(f"RUSTPATH_SHADOW_TIMEOUT must be a positive number; got {timeout!r}")
    for key in ("RUSTPATH_BACKENDS", "RUSTPATH_SHADOW_RATES", "RUSTPATH_LIMITS"):
        _mapping(config, key)
    for route in routes:
        backend_for(config, route)
        shadow_rate_for(config, route)
        for side in SIDES:
            limits_for(config, route, side)


def _route_setting(
    config: Mapping[str, Any], route: HotRoute, per_route_key: str, attribute: str, global_key: str
) -> tuple[Any, str]:
    """A route's setting and where it came from.

    The per-route config entry wins over the route's own argument, which wins over the
    global key: deployment configuration overrides code.
    """
    per_route = _mapping(config, per_route_key)
    if route.name in per_route:
        return per_route[route.name], f"{per_route_key}[{route.name!r}]"
    own = getattr(route, attribute)
    if own is not None:
        return own, f"{attribute}= of hot route {route.name!r}"
    return config[global_key], global_key


def _mapping(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config[key]
    if not isinstance(value, Mapping):
        raise Misconfigured(f"{key} must be a dict keyed by route name; got {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
