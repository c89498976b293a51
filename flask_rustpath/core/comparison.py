"""Both sides of a kernel on the same input, side by side: the tools' calls.

The tools (compare, check, parity, the dashboard) call a kernel's sides outside any
request, with the same limits and error mapping as the request path but no admission
cap and no deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .calling import results_match
from .policy import TOOL, TOOL_UNLIMITED, run
from .record import Call
from .runtime import Runtime
from .sides import Side
from .spec import KernelSpec


@dataclass(frozen=True)
class Outcome:
    """A side's result and how long the implementation call took."""

    result: Any
    seconds: float


def run_side(
    runtime: Runtime,
    kernel: KernelSpec,
    side: Side,
    kwargs: Mapping[str, Any],
    *,
    limits: bool = True,
) -> Outcome:
    """Run ``side`` of ``kernel`` for a tool: the call policy with the side's limits
    (unless ``limits`` is false), no admission cap, no deadline, not counted.

    A missing Rust module raises :class:`RustUnavailable` instead of falling back:
    a tool asked for that side.
    """
    plan = runtime.plans.get(kernel) or runtime.plan_for(kernel)
    calls: list[Call] = []
    policy = TOOL if limits else TOOL_UNLIMITED
    result = run(runtime, kernel, plan, side, (), dict(kwargs), policy, calls)
    return Outcome(result, calls[-1][2] or 0.0)


@dataclass(frozen=True)
class Comparison:
    kernel: str
    args: dict[str, Any]
    python: Outcome
    rust: Outcome
    match: bool

    @property
    def speedup(self) -> float | None:
        """Python time ÷ Rust time (``None`` when Rust took no measurable time)."""
        return self.python.seconds / self.rust.seconds if self.rust.seconds > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "args": self.args,
            "python": {"result": self.python.result, "ms": self.python.seconds * 1000},
            "rust": {"result": self.rust.result, "ms": self.rust.seconds * 1000},
            "speedup": self.speedup,
            "match": self.match,
        }


def compare_sides(
    runtime: Runtime,
    kernel: KernelSpec,
    kwargs: Mapping[str, Any],
    *,
    limits: bool = True,
    repeat: int = 1,
) -> Comparison:
    """Run Python, then Rust, on ``kwargs``; errors of either side are raised.

    Each side's time is the best of ``repeat`` runs. The Rust side runs once more,
    untimed, first: a first call may import the module and start its thread pool,
    which is not what a comparison is about.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    python = _best_of(runtime, kernel, "python", kwargs, limits, repeat)
    run_side(runtime, kernel, "rust", kwargs, limits=limits)
    rust = _best_of(runtime, kernel, "rust", kwargs, limits, repeat)
    return Comparison(
        kernel=kernel.name,
        args=dict(kwargs),
        python=python,
        rust=rust,
        match=results_match(kernel, python.result, rust.result),
    )


def _best_of(
    runtime: Runtime,
    kernel: KernelSpec,
    side: Side,
    kwargs: Mapping[str, Any],
    limits: bool,
    repeat: int,
) -> Outcome:
    runs = [run_side(runtime, kernel, side, kwargs, limits=limits) for _ in range(repeat)]
    return min(runs, key=lambda outcome: outcome.seconds)
