"""The call policy: how every call of a kernel runs one side.

A call made while a request is served, a call from a shell, a CLI command or a job,
and the tools' calls (compare, check, parity, the dashboard) all go through
:func:`run`. What differs between them is only which steps apply, a :class:`Policy`:

1. the side: the one a URL or a tool pinned, else the kernel's backend on the app;
   a Rust side that does not import falls back to the reference, but a pinned
   ``/rust`` (or a tool asking for Rust) answers 503 ``rust_unavailable``;
2. the side's argument limits (422 ``limit_exceeded``);
3. the admission caps (503 ``overloaded`` after ``RUSTPATH_ADMISSION_WAIT``);
4. the deadline, for a Rust side that takes ``timeout=`` (504 ``deadline_exceeded``);
5. timing, and the error mapping of :mod:`~flask_rustpath.core.calling` (400, 504,
   500 for a panic);
6. the record of the call: the request's ``Server-Timing`` entries, a tool's timing,
   and the app's metrics;
7. shadow mode: a call the backend ``shadow`` served on Rust is offered to the shadow
   runner, which may run the reference off the request path and compare.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from ..support.targets import TargetUnavailable
from .admission import Gate, enter_all, leave_all, refusal
from .calling import check_limits, raise_mapped
from .errors import LimitExceeded, Overloaded, RustUnavailable
from .record import Call
from .runtime import KernelPlan, Runtime
from .sides import Side
from .spec import KernelSpec

# The calls a request or a tool records (see :data:`~flask_rustpath.core.record.Call`).
Calls = MutableSequence[Call]


@dataclass(frozen=True, slots=True)
class Policy:
    """Which steps of the policy a call passes (see the module docstring)."""

    limits: bool
    admission: bool
    deadline: bool
    counted: bool  # in the app's metrics
    shadow: bool  # offered to shadow mode when the backend is "shadow"


# A call while a request is served: everything applies.
SERVING = Policy(limits=True, admission=True, deadline=True, counted=True, shadow=True)
# A call from a shell, a CLI command or a job: the app's backend, timed and counted.
OUTSIDE = Policy(limits=False, admission=False, deadline=False, counted=True, shadow=False)
# A tool's call: the limits unless the tool says otherwise, never counted.
TOOL = Policy(limits=True, admission=False, deadline=False, counted=False, shadow=False)
TOOL_UNLIMITED = Policy(limits=False, admission=False, deadline=False, counted=False, shadow=False)


def run(
    runtime: Runtime,
    kernel: KernelSpec,
    plan: KernelPlan,
    pinned: Side | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: Policy,
    calls: Calls | None,
) -> Any:
    """Run one side of ``kernel`` (``pinned``, else its backend) under ``policy``; append
    the call to ``calls`` and, when counted, to the app's metrics.

    This is the per-request path, so it is kept flat: the side is chosen inline (the
    Rust function is resolved once, then read), a side with no limits and no cap skips
    both in one test, and one tuple records the call for the headers and the metrics.
    """
    if (pinned or plan.backend) == "python":
        side: Side = "python"
        function = kernel.python
    else:
        side = "rust"
        function = kernel.rust.function  # type: ignore[assignment]
        if function is None:
            side, function = choose(runtime, kernel, pinned)
    events = plan.events if policy.counted else None
    gates = _admit(kernel, plan, side, args, kwargs, policy, calls, events)
    try:
        timeout = plan.deadline if side == "rust" and policy.deadline else None
        started = perf_counter()
        try:
            if timeout is None or not kernel.rust.takes_timeout:
                result = function(*args, **kwargs)
            elif kwargs:
                result = function(*args, **{"timeout": timeout, **kwargs})
            else:
                result = function(*args, timeout=timeout)
        except BaseException as exc:
            raise_mapped(kernel, side, exc, events, calls)
        call = (kernel.name, side, perf_counter() - started, None)
    finally:
        if gates:
            leave_all(gates)
    if calls is not None:
        calls.append(call)
    if events is not None:
        events.append(call)
    if plan.backend == "shadow" and policy.shadow and pinned is None and side == "rust":
        runtime.shadow.offer(kernel, plan.settings, args, kwargs, result)
    return result


def _admit(
    kernel: KernelSpec,
    plan: KernelPlan,
    side: Side,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: Policy,
    calls: Calls | None,
    events: MutableSequence[Any] | None,
) -> tuple[Gate, ...]:
    """The side's argument limits, then its admission caps: the gates entered (to
    leave once the call ends), or the refusal raised."""
    if not plan.guarded[side]:
        return ()
    name = kernel.name
    limits = plan.limits[side] if policy.limits else None
    if limits:
        try:
            check_limits(kernel, side, kernel.bind(args, kwargs), limits)
        except LimitExceeded:
            _failed(calls, events, side, name, LimitExceeded.error)
            raise
    gates = plan.gates[side] if policy.admission else ()
    if gates and not enter_all(gates):
        _failed(calls, events, side, name, Overloaded.error)
        raise refusal(name, side, gates[0].wait)
    return gates


def choose(
    runtime: Runtime, kernel: KernelSpec, pinned: Side | None
) -> tuple[Side, Callable[..., Any]]:
    """The Rust side's function, imported on its first call; the reference if it does
    not import, unless the URL or a tool pinned Rust (503 ``rust_unavailable``)."""
    try:
        return "rust", kernel.rust.resolve()
    except TargetUnavailable as exc:
        if pinned == "rust":
            raise RustUnavailable(
                f"the Rust side of kernel {kernel.name!r} is unavailable; see the server log",
                kernel=kernel.name,
            ) from None
        runtime.rust_unavailable(kernel, exc)
        return "python", kernel.python


def _failed(
    calls: Calls | None, events: MutableSequence[Any] | None, side: Side, name: str, error: str
) -> None:
    """Record a call refused before it ran: untimed, with its error code."""
    call = (name, side, None, error)
    if calls is not None:
        calls.append(call)
    if events is not None:
        events.append(call)
