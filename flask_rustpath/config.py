"""The ``RUSTPATH_*`` configuration keys and how a route's effective settings follow from them.

Settings are read from ``app.config`` when a request is served, so tests and
factories may change them after :meth:`RustPath.init_app`; only the URL prefixes
(baked into the URL map) and ``RUSTPATH_BUILTINS`` are read once, at ``init_app``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

from .errors import Misconfigured

if TYPE_CHECKING:
    from .hot import HotRoute

Side = Literal["python", "rust"]
SIDES: tuple[Side, ...] = ("python", "rust")
# What may serve a plain rule: a side, or "shadow" (Rust answers, Python is compared).
Backend = Literal["python", "rust", "shadow"]
BACKENDS: tuple[Backend, ...] = ("rust", "python", "shadow")
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
}


def apply_defaults(config: MutableMapping[str, Any]) -> None:
    for key, value in DEFAULTS.items():
        config.setdefault(key, value.copy() if isinstance(value, dict) else value)


def prefix(config: Mapping[str, Any], part: str) -> str:
    """The URL prefix of ``part`` (``python``, ``rust`` or ``url``): ``/…``, no trailing slash."""
    key = f"RUSTPATH_{part.upper()}_PREFIX"
    value = config[key]
    if not isinstance(value, str) or not value.startswith("/") or value.strip("/") == "":
        raise Misconfigured(f"{key} must be a path such as '/{part}', got {value!r}")
    return value.rstrip("/")


def backend_for(config: Mapping[str, Any], route: HotRoute) -> Backend:
    """What serves ``route``'s plain rule.

    ``RUSTPATH_BACKENDS[route]`` wins over the route's own ``backend=``, which wins
    over ``RUSTPATH_BACKEND``: deployment configuration overrides code.
    """
    per_route = config["RUSTPATH_BACKENDS"]
    if route.name in per_route:
        value, source = per_route[route.name], f"RUSTPATH_BACKENDS[{route.name!r}]"
    elif route.backend is not None:
        value, source = route.backend, f"backend= of hot route {route.name!r}"
    else:
        value, source = config["RUSTPATH_BACKEND"], "RUSTPATH_BACKEND"
    if value not in BACKENDS:
        raise Misconfigured(f"{source} must be one of {', '.join(BACKENDS)}; got {value!r}")
    return value


def shadow_rate_for(config: Mapping[str, Any], route: HotRoute) -> float:
    """Fraction of ``route``'s shadow-mode requests that Python also runs, in [0, 1]."""
    per_route = config["RUSTPATH_SHADOW_RATES"]
    if route.name in per_route:
        value, source = per_route[route.name], f"RUSTPATH_SHADOW_RATES[{route.name!r}]"
    elif route.shadow_rate is not None:
        value, source = route.shadow_rate, f"shadow_rate= of hot route {route.name!r}"
    else:
        value, source = config["RUSTPATH_SHADOW_RATE"], "RUSTPATH_SHADOW_RATE"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise Misconfigured(f"{source} must be a number from 0 to 1; got {value!r}")
    return float(value)


def compare_enabled(config: Mapping[str, Any], debug: bool) -> bool:
    """Whether the compare endpoints and the dashboard answer (default: in debug mode)."""
    value = config["RUSTPATH_COMPARE"]
    return debug if value is None else bool(value)


def limits_for(config: Mapping[str, Any], route: HotRoute, side: Side) -> dict[str, float]:
    """Upper bounds on ``route``'s arguments when ``side`` serves it."""
    limits = dict(route.limits.get(side, {}))
    limits.update(config["RUSTPATH_LIMITS"].get(route.name, {}).get(side, {}))
    return limits


def validate(config: Mapping[str, Any], routes: list[HotRoute]) -> None:
    """Fail at start-up, not on the first request, when the configuration is wrong."""
    prefixes = {part: prefix(config, part) for part in ("python", "rust", "url")}
    if len(set(prefixes.values())) < len(prefixes):
        raise Misconfigured(
            "RUSTPATH_PYTHON_PREFIX, RUSTPATH_RUST_PREFIX and RUSTPATH_URL_PREFIX must differ"
        )
    for key in ("RUSTPATH_SHADOW_WORKERS", "RUSTPATH_SHADOW_QUEUE"):
        if isinstance(config[key], bool) or not isinstance(config[key], int) or config[key] < 1:
            raise Misconfigured(f"{key} must be a positive integer; got {config[key]!r}")
    timeout = config["RUSTPATH_SHADOW_TIMEOUT"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise Misconfigured(f"RUSTPATH_SHADOW_TIMEOUT must be a positive number; got {timeout!r}")
    for route in routes:
        backend_for(config, route)
        shadow_rate_for(config, route)
        for side in SIDES:
            for arg, limit in limits_for(config, route, side).items():
                if not isinstance(limit, (int, float)) or isinstance(limit, bool):
                    raise Misconfigured(
                        f"limit for {arg!r} on the {side} side of {route.name!r} must be a "
                        f"number, got {limit!r}"
                    )
