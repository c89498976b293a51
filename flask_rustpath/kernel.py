"""Kernels: the unit of offload, a Python reference with a Rust twin.

A :class:`Kernel` wraps the plain Python function (the reference) and names its Rust
implementation. Calling it runs one side: the side pinned by the current request's
URL (``/python…`` or ``/rust…``), else the backend configured for the kernel on the
current app (``rust``, ``python`` or ``shadow``), else Rust. Arguments and results
are plain values, never the request, so a kernel can be called, compared, shadowed
and parity-checked with no request at all.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypedDict

from flask import current_app, has_app_context, has_request_context, request

from .admission import enter_all, leave_all, refusal_message
from .calling import check_limits, raise_mapped
from .config import EXTENSION_KEY
from .context import BACKENDS, RECORD_KEY, SIDES, CallRecord, Side, current_record
from .errors import LimitExceeded, Overloaded, RustUnavailable
from .targets import RustTarget, TargetUnavailable

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from Python 3.11

    from .state import RustPathState


class KernelOptions(TypedDict, total=False):
    """Optional settings of a kernel (see :meth:`flask_rustpath.RustPath.kernel`)."""

    name: str | None
    backend: str | None
    limits: Mapping[str, Mapping[str, float]] | None
    examples: Sequence[Mapping[str, Any]]
    compare: Callable[[Any, Any], bool] | None
    shadow_rate: float | None
    strategy: Any
    concurrency: Mapping[str, int] | None


class Kernel:
    """A Python function with a Rust twin; call it like the function it wraps."""

    def __init__(
        self,
        python: Callable[..., Any],
        *,
        rust: str | Callable[..., Any],
        **options: Unpack[KernelOptions],
    ) -> None:
        misspelt = set(options) - set(KernelOptions.__annotations__)
        if misspelt:
            raise TypeError(f"unknown kernel option(s) {sorted(misspelt)}")
        if not callable(python) or inspect.isclass(python):
            raise TypeError(f"a kernel wraps a function, got {python!r}")
        if inspect.iscoroutinefunction(python):
            raise TypeError(
                f"kernel {python.__qualname__} is async: a kernel is a plain function of "
                "plain values; call it from an async view instead"
            )
        self.python = python
        self.rust = RustTarget(rust)
        self.name: str = options.get("name") or python.__name__
        backend = options.get("backend")
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
        self.backend = backend
        shadow_rate = options.get("shadow_rate")
        if shadow_rate is not None and not 0 <= shadow_rate <= 1:
            raise ValueError(f"shadow_rate must be from 0 to 1, got {shadow_rate!r}")
        self.shadow_rate = shadow_rate
        signature = inspect.signature(python)
        self.signature = signature
        self.parameters: tuple[str, ...] = tuple(signature.parameters)
        # Names that positional arguments bind to, in order.
        self._positional = tuple(
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        limits = {side: dict(bounds) for side, bounds in (options.get("limits") or {}).items()}
        unknown = set(limits) - set(SIDES)
        if unknown:
            raise ValueError(f"limits are keyed by side {SIDES}; unknown keys {sorted(unknown)}")
        for side, bounds in limits.items():
            stray = set(bounds) - set(self.parameters)
            if stray:
                raise ValueError(
                    f"{side} limits of kernel {self.name!r} name {sorted(stray)}, which "
                    f"{python.__qualname__} does not take"
                )
        self.limits: Mapping[str, Mapping[str, float]] = limits
        self.examples: tuple[Mapping[str, Any], ...] = tuple(options.get("examples", ()))
        for example in self.examples:
            self.bind((), example)
        self.compare = options.get("compare")
        self.strategy = options.get("strategy")
        concurrency = dict(options.get("concurrency") or {})
        for side, slots in concurrency.items():
            if (
                side not in SIDES
                or not isinstance(slots, int)
                or isinstance(slots, bool)
                or slots < 1
            ):
                raise ValueError(
                    f"concurrency of kernel {self.name!r} maps 'python'/'rust' to a positive "
                    f"integer; got {concurrency!r}"
                )
        # This kernel's own cap per side, within the worker-wide RUSTPATH_CONCURRENCY.
        self.concurrency: Mapping[str, int] = concurrency
        functools.update_wrapper(self, python)

    def __repr__(self) -> str:
        return f"<Kernel {self.name} python={self.python.__qualname__} rust={self.rust.spec}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the side this call belongs to (see the module docstring).

        While a request is served, the side's limits, admission cap and deadline
        apply and the call is reported for ``Server-Timing``. This is the per-request
        path, kept flat: one lookup of the kernel's plan on the app, no lock.
        """
        record = current_record.get()
        if record is None:
            record = _record_of_flask_request()
            if record is None:
                return self._outside_request(args, kwargs)
        state = record.state
        plan = state.plans.get(self) or state.plan_for(self)
        pinned = record.side
        backend = pinned or plan.backend
        side: Side
        if backend == "python":
            side, function = "python", self.python
        else:
            rust = self.rust.function
            if rust is None:
                side, function = self._rust_or_fallback(state, pinned)
            else:
                side, function = "rust", rust
        name = self.name
        events = plan.events
        limits = plan.limits[side]
        if limits:
            try:
                check_limits(self, side, self.bind(args, kwargs), limits)
            except LimitExceeded:
                record.calls.append((side, name, None))
                events.append((name, side, None, LimitExceeded.error))
                raise
        gates = plan.gates[side]
        if gates and not enter_all(gates):
            record.calls.append((side, name, None))
            events.append((name, side, None, Overloaded.error))
            raise Overloaded(
                refusal_message(side, repr(name), gates[0].wait),
                kernel=name,
                backend=side,
            )
        try:
            call_kwargs = kwargs
            if side == "rust" and plan.deadline is not None and self.rust.takes_timeout:
                call_kwargs = {"timeout": plan.deadline, **kwargs}
            started = perf_counter()
            try:
                result = function(*args, **call_kwargs)
            except BaseException as exc:
                record.calls.append((side, name, None))
                raise_mapped(self, side, exc, events)
            seconds = perf_counter() - started
        finally:
            if gates:
                leave_all(gates)
        record.calls.append((side, name, seconds))
        events.append((name, side, seconds, None))
        if backend == "shadow" and side == "rust":
            state.shadow.offer(self, plan.settings, args, kwargs, result)
        return result

    def _rust_or_fallback(
        self, state: RustPathState, pinned: Side | None
    ) -> tuple[Side, Callable[..., Any]]:
        """The Rust side on its first call, or the reference when it does not import
        (a pinned ``/rust`` URL answers 503 instead)."""
        try:
            return "rust", self.rust.resolve()
        except TargetUnavailable as exc:
            if pinned == "rust":
                raise RustUnavailable(
                    f"the Rust side of kernel {self.name!r} is unavailable; see the server log",
                    kernel=self.name,
                ) from None
            state.rust_unavailable(self, exc)
            return "python", self.python

    def _outside_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A call from a shell, a CLI command or a job: the app's configured backend if
        there is an app, no limits, admission or deadline; timed and counted."""
        state = _state_outside_request()
        if state is None:  # no app at all: Rust if it imports, else the reference
            try:
                function = self.rust.resolve()
            except TargetUnavailable:
                function = self.python
            return function(*args, **kwargs)
        plan = state.plans.get(self) or state.plan_for(self)
        side: Side
        if plan.backend == "python":
            side, function = "python", self.python
        else:
            side, function = "rust", self.rust.function or self._rust_or_fallback(state, None)[1]
            if function is self.python:
                side = "python"
        started = perf_counter()
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            raise_mapped(self, side, exc, plan.events)
        plan.events.append((self.name, side, perf_counter() - started, None))
        return result

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments by parameter name, as the reference would see them; ``TypeError``
        if they do not fit its signature."""
        if len(args) > len(self._positional):
            self.signature.bind(*args, **kwargs)  # raises the interpreter's own message
        named = dict(zip(self._positional, args, strict=False))
        named.update(kwargs)
        if len(named) != len(args) + len(kwargs) or not set(named) <= set(self.parameters):
            self.signature.bind(*args, **kwargs)
        return named


def _record_of_flask_request() -> CallRecord | None:
    """The record of the request being served when the context variable does not reach
    this call: a streamed body (``stream_with_context``) runs after the middleware has
    returned, but inside a copy of the request context."""
    if not has_request_context():
        return None
    record: CallRecord | None = request.environ.get(RECORD_KEY)
    return record


def _state_outside_request() -> RustPathState | None:
    if not has_app_context():
        return None
    state: RustPathState | None = current_app.extensions.get(EXTENSION_KEY)
    return state
