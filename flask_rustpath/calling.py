"""Running one side of a kernel: limits, admission, deadline, timing and errors.

Every kernel call goes through :meth:`Kernel.__call__ <flask_rustpath.kernel.Kernel>`
(calls made by the app's code) or :func:`run_side` (the tools: compare, check, parity,
dashboard). Both map what an implementation raises the same way (:func:`mapped`):

- ``ValueError``/``OverflowError``: the input was refused, :class:`BadInput` (400),
  still a ``ValueError``;
- ``TimeoutError``: the deadline passed, :class:`DeadlineExceeded` (504), still a
  ``TimeoutError``;
- a Rust panic (PyO3's ``PanicException``, a ``BaseException``): :class:`RustPanic`
  (500), an ordinary exception, so the worker keeps serving;
- anything else propagates unchanged, as it would from the plain function.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, MutableSequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from .context import Side
from .errors import (
    BadInput,
    DeadlineExceeded,
    HotRouteError,
    LimitExceeded,
    RustPanic,
    RustUnavailable,
    is_rust_panic,
)
from .targets import TargetUnavailable

if TYPE_CHECKING:
    from .kernel import Kernel
    from .state import RustPathState

log = logging.getLogger("flask_rustpath")


@dataclass(frozen=True)
class Outcome:
    """A side's result and how long the implementation call took."""

    result: Any
    seconds: float


def run_side(
    state: RustPathState,
    kernel: Kernel,
    side: Side,
    kwargs: Mapping[str, Any],
    *,
    limits: bool = True,
) -> Outcome:
    """Run ``side`` of ``kernel`` for a tool, with no admission cap and no deadline.

    A missing Rust module raises :class:`RustUnavailable` instead of falling back:
    a tool asked for that side.
    """
    if limits:
        bounds = state.settings_for(kernel).limits.get(side)
        if bounds:
            check_limits(kernel, side, kwargs, bounds)
    if side == "python":
        function = kernel.python
    else:
        try:
            function = kernel.rust.resolve()
        except TargetUnavailable:
            raise RustUnavailable(
                f"the Rust side of kernel {kernel.name!r} is unavailable; see the server log",
                kernel=kernel.name,
            ) from None
    started = time.perf_counter()
    result = invoke(kernel, side, function, (), dict(kwargs))
    return Outcome(result, time.perf_counter() - started)


def check_limits(
    kernel: Kernel, side: Side, named: Mapping[str, Any], limits: Mapping[str, float]
) -> None:
    for argument, limit in limits.items():
        value = named.get(argument)
        # "not <=": a NaN compares false with everything and must not slip through.
        if isinstance(value, (int, float)) and not value <= limit:
            raise LimitExceeded(
                f"{argument}={value} is above the {side} limit of {limit} for {kernel.name!r}",
                argument=argument,
                limit=limit,
                backend=side,
            )


def invoke(
    kernel: Kernel,
    side: Side,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> Any:
    """Call one side, mapping failures as the module docstring says."""
    try:
        return function(*args, **kwargs)
    except BaseException as exc:
        error = mapped(kernel, side, exc)
        if error is None:
            raise
        raise error from exc


def raise_mapped(
    kernel: Kernel, side: Side, exc: BaseException, events: MutableSequence[Any]
) -> NoReturn:
    """Count ``exc`` as the call's outcome and raise what it maps to (called from the
    ``except`` block around an implementation call)."""
    error = mapped(kernel, side, exc)
    events.append((kernel.name, side, None, error_code(error or exc)))
    if error is None:
        raise exc
    raise error from exc


def mapped(kernel: Kernel, side: Side, exc: BaseException) -> HotRouteError | None:
    """The error to raise for ``exc``, or ``None`` to let it propagate unchanged."""
    if isinstance(exc, HotRouteError):
        return None
    if isinstance(exc, (ValueError, OverflowError)):
        return BadInput(str(exc), kernel=kernel.name, backend=side)
    if isinstance(exc, TimeoutError):
        return DeadlineExceeded(
            f"the {side} side of {kernel.name!r} ran past its deadline and was stopped",
            kernel=kernel.name,
            backend=side,
        )
    if isinstance(exc, Exception) or not is_rust_panic(exc):
        return None
    log.error("[pid %d] Rust panic in kernel %r: %s", os.getpid(), kernel.name, exc)
    return RustPanic(
        f"the Rust side of {kernel.name!r} panicked; see the server log", kernel=kernel.name
    )


def results_match(kernel: Kernel, python_result: Any, rust_result: Any) -> bool:
    """The kernel's ``compare=`` hook if it has one, else equality."""
    if kernel.compare is not None:
        return bool(kernel.compare(python_result, rust_result))
    return bool(python_result == rust_result)


def error_code(exc: BaseException) -> str:
    return exc.error if isinstance(exc, HotRouteError) else type(exc).__name__
