"""Per-app state: settings resolved at ``init_app``, kernels, hot routes, slots, metrics.

Lives in ``app.extensions["rustpath"]``, so one :class:`~flask_rustpath.RustPath`
can serve several apps (app factories, tests) without sharing anything mutable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from .admission import Gate
from .config import EXTENSION_KEY, AppSettings, KernelSettings, resolve
from .context import SIDES, Side
from .errors import HotRouteError, InvalidArgument, Misconfigured, NotFoundJSON
from .errors import MethodNotAllowed as JSONMethodNotAllowed
from .forksafe import fork_safe_lock
from .hot import HotRoute
from .kernel import Kernel
from .logs import LimitedLog
from .metrics import Event, Metrics
from .rules import fixed_start, loosen
from .shadow import ShadowRunner
from .targets import TargetUnavailable

log = logging.getLogger("flask_rustpath")

_REPEATED_SLASHES = re.compile("/{2,}")


@dataclass(frozen=True, eq=False)
class KernelPlan:
    """Everything a call of one kernel reads on one app, gathered for the request path."""

    settings: KernelSettings
    backend: str
    limits: Mapping[Side, Mapping[str, float] | None]
    # The caps a call of each side passes, the kernel's own first; () for no cap.
    gates: Mapping[Side, tuple[Gate, ...]]
    events: deque[Event]
    deadline: float | None


class RustPathState:
    """Everything flask-rustpath keeps for one app."""

    def __init__(self, app: Flask, settings: AppSettings) -> None:
        self.app_name = app.name
        self.config = app.config
        self.url_map = app.url_map
        self.settings = settings
        self.kernels: dict[str, Kernel] = {}
        self.kernel_settings: dict[str, KernelSettings] = {}
        self.routes: dict[str, HotRoute] = {}  # JSON shorthand routes, by endpoint
        self.logs = LimitedLog(settings.log_interval)
        self.metrics = Metrics(self._metrics_failed)
        self.problems: dict[str, str] = {}  # what is degraded, for health()
        self.shadow = ShadowRunner(settings, self.metrics.shadow, self.logs)
        # The worker-wide cap per side (RUSTPATH_CONCURRENCY), shared by every kernel.
        self.gates: dict[Side, Gate | None] = {
            side: None if cap is None else Gate(cap, settings.admission_wait)
            for side, cap in settings.concurrency.items()
        }
        self.plans: dict[Kernel, KernelPlan] = {}
        self._lock = fork_safe_lock(self)
        self._loose: Map | None = None

    # -- kernels -------------------------------------------------------------------

    def add_kernel(self, kernel: Kernel) -> KernelSettings:
        """Register ``kernel`` and compute its settings (once); a different kernel of
        the same name is refused."""
        with self._lock:
            known = self.kernels.get(kernel.name)
            if known is not None:
                if known is not kernel:
                    raise ValueError(
                        f"two kernels are named {kernel.name!r} on app {self.app_name!r} "
                        f"({known.python.__qualname__} and {kernel.python.__qualname__}); "
                        "give one of them name="
                    )
                return self.kernel_settings[kernel.name]
            settings = resolve(self.config, kernel)
            self.kernels[kernel.name] = kernel
            self.kernel_settings[kernel.name] = settings
            return settings

    def plan_for(self, kernel: Kernel) -> KernelPlan:
        """What a call of ``kernel`` needs on this app, computed on its first call (once:
        threads racing on a first call must share the kernel's own admission cap)."""
        settings = self.settings_for(kernel)
        with self._lock:
            known = self.plans.get(kernel)
            if known is not None:
                return known
            plan = self._new_plan(kernel, settings)
            self.plans[kernel] = plan
            return plan

    def _new_plan(self, kernel: Kernel, settings: KernelSettings) -> KernelPlan:
        return KernelPlan(
            settings=settings,
            backend=settings.backend,
            limits={side: settings.limits.get(side) for side in SIDES},
            gates={side: self._gates(kernel, side) for side in SIDES},
            events=self.metrics.events,
            deadline=self.settings.deadline,
        )

    def _gates(self, kernel: Kernel, side: Side) -> tuple[Gate, ...]:
        own = kernel.concurrency.get(side)
        gates = () if own is None else (Gate(own, self.settings.admission_wait),)
        shared = self.gates[side]
        return gates if shared is None else (*gates, shared)

    def settings_for(self, kernel: Kernel) -> KernelSettings:
        settings = self.kernel_settings.get(kernel.name)
        if settings is None or self.kernels[kernel.name] is not kernel:
            settings = self.add_kernel(kernel)
        return settings

    def rust_unavailable(self, kernel: Kernel, exc: TargetUnavailable) -> None:
        """A call fell back to Python because the Rust module does not import."""
        self.metrics.fallback(kernel.name)
        self.logs.warning(
            f"unavailable:{kernel.name}",
            "kernel %r runs on Python: %s",
            kernel.name,
            exc,
        )

    def _metrics_failed(self, exc: BaseException) -> None:
        """Metrics could not be recorded: say so once, and report the app degraded."""
        with self._lock:
            first = "metrics" not in self.problems
            # Public (a /healthz body): the kind of failure only; details go to the log.
            self.problems["metrics"] = f"recording failed ({type(exc).__name__}); see the log"
        if first:
            with contextlib.suppress(Exception):
                log.error(
                    "[pid %d] flask-rustpath metrics are failing, responses are unaffected: "
                    "%s: %s",
                    os.getpid(),
                    type(exc).__name__,
                    exc,
                )

    def health(self) -> dict[str, Any]:
        """``{"status": "ok"}``, or ``"degraded"`` with what is wrong; serving goes on."""
        if not self.problems:
            return {"status": "ok"}
        return {"status": "degraded", "problems": dict(self.problems)}

    # -- hot routes ----------------------------------------------------------------

    def add_route(self, route: HotRoute) -> None:
        self.add_kernel(route.kernel)
        self.routes[route.endpoint] = route

    def routing_error(self, exc: HTTPException, path: str) -> HotRouteError | None:
        """The JSON error for a 404/405 under a hot route's rule, or ``None``.

        ``path`` is the decoded path, after any side prefix was taken off.
        """
        loose = self._loose_map()
        if loose is None:
            return None
        if isinstance(exc, MethodNotAllowed):
            # Ours only if every rule the path matches under another method is a hot route.
            adapter = self.url_map.bind("")
            for method in exc.valid_methods or ():
                try:
                    endpoint, _ = adapter.match(path, method=method)
                except HTTPException:
                    continue
                if endpoint not in self.routes:
                    return None
            allowed = sorted(exc.valid_methods or ())
            return JSONMethodNotAllowed(f"{path} accepts {', '.join(allowed)}", allowed=allowed)
        if not isinstance(exc, NotFound):
            return None
        try:
            (endpoint, rule), values = loose.bind("").match(path, method="GET")
        except HTTPException:
            starts = {fixed_start(r.rule) for r in loose.iter_rules() if fixed_start(r.rule)}
            merged = _REPEATED_SLASHES.sub("/", path)  # the app may merge them too
            for start in starts:
                if merged == start or merged.startswith(start + "/"):
                    return NotFoundJSON(f"{path} fits no variant of a hot route here", route=start)
            return None
        got = ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
        return InvalidArgument(
            f"{path} does not fit {rule}: {got} is not a valid value for its converter",
            route=endpoint,
            rule=rule,
        )

    def _loose_map(self) -> Map | None:
        """The app's hot rules with converters loosened, built on first use (the URL map
        is complete by then: Flask refuses new rules once an app serves)."""
        if self._loose is None:
            endpoints = set(self.routes)
            loose = Map(strict_slashes=True, merge_slashes=False)
            for rule in self.url_map.iter_rules():
                if rule.endpoint in endpoints and not rule.rule.startswith("/<"):
                    loose.add(
                        Rule(
                            loosen(rule.rule),
                            endpoint=(rule.endpoint, rule.rule),
                            methods=rule.methods,
                        )
                    )
            self._loose = loose
        return self._loose if any(True for _ in self._loose.iter_rules()) else None

    def check_rule(self, rule: Rule) -> None:
        """Refuse a URL rule that a side prefix would hide, or that collides with a hot
        route's rule; called for every rule the app adds, before and after init_app."""
        for side in SIDES:
            prefix = self.settings.prefix(side)
            if rule.rule == prefix or rule.rule.startswith(prefix + "/"):
                raise Misconfigured(
                    f"URL rule {rule.rule!r} is under {prefix}, which flask-rustpath reserves "
                    f"for the {side} variants of paired views; change the rule or "
                    f"RUSTPATH_{side.upper()}_PREFIX"
                )


def get_state(app: Flask | None = None) -> RustPathState:
    """The :class:`RustPathState` of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        state: RustPathState = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            f"flask-rustpath is not initialised on app {app.name!r}: call RustPath(app) "
            "or rustpath.init_app(app) first"
        ) from None
    return state
