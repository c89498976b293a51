"""Kernels: the unit of offload, a Python reference with a Rust twin.

A :class:`Kernel` wraps the plain Python function (the reference) and names its Rust
implementation. Calling it runs one side: the side pinned by the current request's
URL (``/python…`` or ``/rust…``), else the backend configured for the kernel on the
current app (``rust``, ``python`` or ``shadow``), else Rust. Arguments and results
are plain values, never the request, so a kernel can be called, compared, shadowed
and parity-checked with no request at all.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from ..support.targets import TargetUnavailable
from . import record as records
from .admission import enter_all, leave_all, refusal
from .calling import check_limits, raise_mapped
from .errors import LimitExceeded, Overloaded, RustUnavailable
from .record import current_record
from .runtime import Runtime
from .sides import Side
from .spec import KernelOptions, KernelSpec

__all__ = ["Kernel", "KernelOptions", "KernelSpec"]


class Kernel(KernelSpec):
    """A Python function with a Rust twin; call it like the function it wraps."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the side this call belongs to (see the module docstring).

        While a request is served, the side's limits, admission cap and deadline
        apply and the call is reported for ``Server-Timing``. This is the per-request
        path, kept flat: one lookup of the kernel's plan on the app, no lock.
        """
        record = current_record.get()
        if record is None:
            record = records.locate_record()
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
            raise refusal(name, side, gates[0].wait)
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
        self, state: Runtime, pinned: Side | None
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
        state = records.locate_runtime()
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
