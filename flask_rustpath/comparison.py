"""Both sides of a hot route on the same input, side by side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .calling import Outcome, results_match, run_side
from .hot import HotRoute


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
    route: HotRoute, kwargs: Mapping[str, Any], *, limits: bool = True
) -> Comparison:
    """Run Python, then Rust, on ``kwargs``; errors of either side are raised."""
    python = run_side(route, "python", kwargs, limits=limits)
    rust = run_side(route, "rust", kwargs, limits=limits)
    return Comparison(
        route=route.name,
        args=dict(kwargs),
        python=python,
        rust=rust,
        match=results_match(route, python.result, rust.result),
    )
