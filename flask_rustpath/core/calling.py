"""Two steps of the call policy (:mod:`~flask_rustpath.core.policy`): the argument
limits, and the mapping of what an implementation raises (:func:`mapped`):

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
from collections.abc import Mapping, MutableSequence
from typing import Any, NoReturn

from ..support.targets import is_rust_panic
from .errors import (
    BadInput,
    DeadlineExceeded,
    HotRouteError,
    LimitExceeded,
    RustPanic,
)
from .parameters import SIZED_TYPES
from .sides import Side
from .spec import KernelSpec

log = logging.getLogger("flask_rustpath")


def check_limits(
    kernel: KernelSpec, side: Side, named: Mapping[str, Any], limits: Mapping[str, float]
) -> None:
    """Refuse an argument above its limit: a number by its value, text, bytes and
    sequences by their length (what their cost grows with)."""
    for argument, limit in limits.items():
        value = named.get(argument)
        # "not <=": a NaN compares false with everything and must not slip through.
        if isinstance(value, (int, float)):
            if not value <= limit:
                raise LimitExceeded.above(kernel.name, side, argument, value, limit)
        elif isinstance(value, SIZED_TYPES) and not len(value) <= limit:
            raise LimitExceeded.longer(kernel.name, side, argument, len(value), limit)


def raise_mapped(
    kernel: KernelSpec,
    side: Side,
    exc: BaseException,
    events: MutableSequence[Any] | None,
    calls: MutableSequence[Any] | None = None,
) -> NoReturn:
    """Record ``exc`` as the call's outcome in ``events`` and ``calls`` (each unless
    ``None``) and raise what it maps to (called from the ``except`` block around an
    implementation call)."""
    raise failed_call(kernel, side, exc, events, calls)


def failed_call(
    kernel: KernelSpec,
    side: Side,
    exc: BaseException,
    events: MutableSequence[Any] | None,
    calls: MutableSequence[Any] | None = None,
) -> BaseException:
    """Record ``exc`` as the call's outcome in ``events`` and ``calls`` (each unless
    ``None``) and return what to raise: the error it maps to, caused by ``exc`` (as
    ``raise error from exc`` leaves it), or ``exc`` itself. The native call raises it
    the same way (see ``rust_src/request_path.rs``)."""
    error = mapped(kernel, side, exc)
    call = (kernel.name, side, None, error_code(error or exc))
    if calls is not None:
        calls.append(call)
    if events is not None:
        events.append(call)
    if error is None:
        return exc
    error.__cause__ = exc  # also suppresses the context, as `from` does
    error.__context__ = exc
    return error


def mapped(kernel: KernelSpec, side: Side, exc: BaseException) -> HotRouteError | None:
    """The error to raise for ``exc``, or ``None`` to let it propagate unchanged."""
    if isinstance(exc, HotRouteError):
        return None
    if isinstance(exc, (ValueError, OverflowError)):
        return BadInput.refused(kernel.name, side, str(exc))
    if isinstance(exc, TimeoutError):
        return DeadlineExceeded.stopped(kernel.name, side)
    if isinstance(exc, Exception) or not is_rust_panic(exc):
        return None
    log.error("[pid %d] Rust panic in kernel %r: %s", os.getpid(), kernel.name, exc)
    return RustPanic.of(kernel.name)


def results_match(kernel: KernelSpec, python_result: Any, rust_result: Any) -> bool:
    """The kernel's ``compare=`` hook if it has one, else equality."""
    if kernel.compare is not None:
        return bool(kernel.compare(python_result, rust_result))
    return bool(python_result == rust_result)


def error_code(exc: BaseException) -> str:
    return exc.error if isinstance(exc, HotRouteError) else type(exc).__name__
