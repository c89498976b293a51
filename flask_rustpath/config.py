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

DEFAULTS: Mapping[str, Any] = {
    # Which side answers a hot route's plain rule: "rust" or "python".
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
}


def apply_defaults(config: MutableMapping[str, Any]) -> None:
    for key, value in DEFAULTS.items():
        config.setdefault(key, value.copy() if isinstance(value, dict) else value)


def prefix(config: Mapping[str, Any], side: Side) -> str:
    """The URL prefix of ``side``: starts with ``/``, no trailing slash."""
    key = f"RUSTPATH_{side.upper()}_PREFIX"
    value = config[key]
    if not isinstance(value, str) or not value.startswith("/") or value == "/":
        raise Misconfigured(f"{key} must be a path such as '/{side}', got {value!r}")
    return value.rstrip("/")


def backend_for(config: Mapping[str, Any], route: HotRoute) -> Side:
    """The side that serves ``route``'s plain rule.

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
    if value not in SIDES:
        raise Misconfigured(f"{source} must be one of {', '.join(SIDES)}; got {value!r}")
    return value


def limits_for(config: Mapping[str, Any], route: HotRoute, side: Side) -> dict[str, float]:
    """Upper bounds on ``route``'s arguments when ``side`` serves it."""
    limits = dict(route.limits.get(side, {}))
    limits.update(config["RUSTPATH_LIMITS"].get(route.name, {}).get(side, {}))
    return limits


def validate(config: Mapping[str, Any], routes: list[HotRoute]) -> None:
    """Fail at start-up, not on the first request, when the configuration is wrong."""
    for side in SIDES:
        prefix(config, side)
    if config["RUSTPATH_PYTHON_PREFIX"] == config["RUSTPATH_RUST_PREFIX"]:
        raise Misconfigured("RUSTPATH_PYTHON_PREFIX and RUSTPATH_RUST_PREFIX must differ")
    for route in routes:
        backend_for(config, route)
        for side in SIDES:
            for arg, limit in limits_for(config, route, side).items():
                if not isinstance(limit, (int, float)) or isinstance(limit, bool):
                    raise Misconfigured(
                        f"limit for {arg!r} on the {side} side of {route.name!r} must be a "
                        f"number, got {limit!r}"
                    )
