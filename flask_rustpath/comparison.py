"""Both sides of a kernel on the same input, side by side."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

from .calling import Outcome, results_match, run_side
from .context import Side
from .errors import MissingParameter

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


# Annotations whose values are typed as text on a command line or in a form; any other
# (list, dict, …) is read as JSON.
TEXT_KINDS = (int, float, bool, str, Any)


def arguments_from_text(kernel: Kernel, raw: Mapping[str, str]) -> dict[str, Any]:
    """``kernel``'s keyword arguments from text (a command line, a form), converted by each
    parameter's annotation exactly as a JSON shorthand route converts a query string;
    values of other annotations (``list[int]``, ``dict``) are read as JSON. Raises
    :class:`MissingParameter` (400) naming a missing or ill-typed parameter, and
    ``TypeError`` for a kernel whose parameters cannot be named."""
    from .hot import kernel_parameters, read_parameters

    parameters = kernel_parameters(kernel)
    kinds = {parameter.name: parameter.kind for parameter in parameters}
    query: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in kinds:
            continue
        if kinds[name] in TEXT_KINDS:
            query[name] = text
            continue
        try:
            body[name] = json.loads(text)
        except ValueError:
            kind = getattr(kinds[name], "__name__", str(kinds[name]))
            raise MissingParameter(
                f"parameter {name!r} must be JSON for {kind}", kernel=kernel.name, parameter=name
            ) from None
    options: dict[str, Any] = {"query_string": query}
    if body:
        options["json"] = body
    with current_app.test_request_context("/", **options):
        return read_parameters(kernel.name, parameters)
