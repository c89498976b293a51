"""One app's runtime: what every kernel call on that app shares, with no framework.

Settings resolved once, the kernels and their per-call plans, the admission caps,
metrics and the shadow runner. The Flask face keeps one per app (a subclass,
:class:`~flask_rustpath.state.RustPathState`, in ``app.extensions["rustpath"]``), so one
:class:`~flask_rustpath.RustPath` can serve several apps without sharing anything
mutable; the tools build one from a bare config.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..support.forksafe import fork_safe_lock
from ..support.logs import LimitedLog
from ..support.metrics import Event, Metrics
from ..support.targets import TargetUnavailable
from .admission import Gate
from .config import AppSettings, KernelSettings, resolve
from .shadow import ShadowRunner
from .sides import SIDES, Side
from .spec import KernelSpec

log = logging.getLogger("flask_rustpath")


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
    # Whether a call of the side passes a limit or a cap: most pass neither, and skip both.
    guarded: Mapping[Side, bool]
    # What the native call path reads, in one tuple: (backend, python guarded, rust
    # guarded, deadline, events, the kernel's name, events.append). See
    # rust_src/request_path.rs.
    kernel: KernelSpec
    digest: tuple[Any, ...] = field(init=False)

    def __post_init__(self) -> None:
        kernel = self.kernel
        digest = (
            self.backend,
            self.guarded["python"],
            self.guarded["rust"],
            self.deadline,
            self.events,
            kernel.name,
            self.events.append,
        )
        object.__setattr__(self, "digest", digest)  # the dataclass is frozen


class Runtime:
    """Everything one app's kernel calls share: settings, kernels, plans, caps, metrics
    and the shadow runner."""

    def __init__(self, app_name: str, config: Mapping[str, Any], settings: AppSettings) -> None:
        self.app_name = app_name
        self.config = config
        self.settings = settings
        self.kernels: dict[str, KernelSpec] = {}
        self.kernel_settings: dict[str, KernelSettings] = {}
        self.logs = LimitedLog(settings.log_interval)
        self.metrics = Metrics(self._metrics_failed)
        self.problems: dict[str, str] = {}  # what is degraded, for health()
        self.shadow = ShadowRunner(settings, self.metrics.shadow, self.logs)
        # The worker-wide cap per side (RUSTPATH_CONCURRENCY), shared by every kernel.
        self.gates: dict[Side, Gate | None] = {
            side: None if cap is None else Gate(cap, settings.admission_wait)
            for side, cap in settings.concurrency.items()
        }
        self.plans: dict[KernelSpec, KernelPlan] = {}
        # Each plan's digest, by kernel: what the native call reads (the same dict for
        # the runtime's life, so the middleware can hold it).
        self.digests: dict[KernelSpec, tuple[Any, ...]] = {}
        self._lock = fork_safe_lock(self)

    # -- kernels -------------------------------------------------------------------

    def add_kernel(self, kernel: KernelSpec) -> KernelSettings:
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

    def plan_for(self, kernel: KernelSpec) -> KernelPlan:
        """What a call of ``kernel`` needs on this app, computed on its first call (once:
        threads racing on a first call must share the kernel's own admission cap)."""
        settings = self.settings_for(kernel)
        with self._lock:
            known = self.plans.get(kernel)
            if known is not None:
                return known
            plan = self._new_plan(kernel, settings)
            self.plans[kernel] = plan
            self.digests[kernel] = plan.digest
            return plan

    def _new_plan(self, kernel: KernelSpec, settings: KernelSettings) -> KernelPlan:
        limits = {side: settings.limits.get(side) for side in SIDES}
        gates = {side: self._gates(kernel, side) for side in SIDES}
        return KernelPlan(
            settings=settings,
            backend=settings.backend,
            limits=limits,
            gates=gates,
            events=self.metrics.events,
            deadline=self.settings.deadline,
            guarded={side: bool(limits[side] or gates[side]) for side in SIDES},
            kernel=kernel,
        )

    def _gates(self, kernel: KernelSpec, side: Side) -> tuple[Gate, ...]:
        own = kernel.concurrency.get(side)
        gates = () if own is None else (Gate(own, self.settings.admission_wait),)
        shared = self.gates[side]
        return gates if shared is None else (*gates, shared)

    def settings_for(self, kernel: KernelSpec) -> KernelSettings:
        settings = self.kernel_settings.get(kernel.name)
        if settings is None or self.kernels[kernel.name] is not kernel:
            settings = self.add_kernel(kernel)
        return settings

    def rust_unavailable(self, kernel: KernelSpec, exc: TargetUnavailable) -> None:
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
