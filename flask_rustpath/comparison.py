"""Both sides of a kernel on the same input, side by side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .calling import Outcome, results_match, run_side
from .context import Side

if TYPE_CHECKING:
    from .kernel import Kernel
    from .state import RustPathState


@dataclass(frozen=True)
class Comparison:
    route: str
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
            "route": self.route,
            "args": self.args,
            "python": {"result": self.python.result, "ms": self.python.seconds * 1000},
            "rust": {"result": self.rust.result, "ms": self.rust.seconds * 1000},
            "speedup": self.speedup,
            "match": self.match,
        }


def compare_sides(
    state: RustPathState,
    kernel: Kernel,
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
    python = _best_of(state, kernel, "python", kwargs, limits, repeat)
    run_side(state, kernel, "rust", kwargs, limits=limits)
    rust = _best_of(state, kernel, "rust", kwargs, limits, repeat)
    return Comparison(
        route=kernel.name,
        args=dict(kwargs),
        python=python,
        rust=rust,
        match=results_match(kernel, python.result, rust.result),
    )


def _best_of(
    state: RustPathState,
    kernel: Kernel,
    side: Side,
    kwargs: Mapping[str, Any],
    limits: bool,
    repeat: int,
) -> Outcome:
    runs = [run_side(state, kernel, side, kwargs, limits=limits) for _ in range(repeat)]
    return min(runs, key=lambda outcome: outcome.seconds)
