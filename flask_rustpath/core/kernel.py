"""Kernels: the unit of offload, a Python reference with a Rust twin.

A :class:`Kernel` wraps the plain Python function (the reference) and names its Rust
implementation. Calling it runs one side: the side pinned by the current request's
URL (``/python…`` or ``/rust…``), else the backend configured for the kernel on the
current app (``rust``, ``python`` or ``shadow``), else Rust. Arguments and results
are plain values, never the request, so a kernel can be called, compared, shadowed
and parity-checked with no request at all.
"""

from __future__ import annotations

from typing import Any

from ..support.native import KernelCall
from ..support.targets import TargetUnavailable
from . import record as records
from .policy import OUTSIDE, SERVING, run
from .spec import KernelOptions, KernelSpec

__all__ = ["Kernel", "KernelOptions", "KernelSpec"]


class Kernel(KernelSpec, KernelCall):
    """A Python function with a Rust twin; call it like the function it wraps.

    Calling it runs the side the call belongs to, under the call policy of
    ``flask_rustpath.core.policy``: while a request is served, the side's limits,
    admission cap and deadline apply and the call is reported for ``Server-Timing``.

    The call itself is native (``KernelCall``, ``rust_src/request_path.rs``): a
    call in a request whose side passes no limit and no cap, with its Rust side
    imported and a backend other than ``shadow``, is run, timed and recorded there.
    Every other call comes to ``_call``, the full policy in Python, and every failure
    is recorded and mapped there too.
    """

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any:
        """The call in Python: one lookup of the request's record and of the kernel's
        plan on the app, then :func:`~flask_rustpath.core.policy.run`."""
        if kwargs is None:
            kwargs = {}
        record = records.locate_record()
        if record is None:
            return self._outside_request(args, kwargs)
        runtime = record.state
        plan = runtime.plans.get(self) or runtime.plan_for(self)
        return run(runtime, self, plan, record.side, args, kwargs, SERVING, record.calls)

    def _outside_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A call from a shell, a CLI command or a job: the app's configured backend if
        there is an app, no limits, admission or deadline; timed and counted."""
        runtime = records.locate_runtime()
        if runtime is None:  # no app at all: Rust if it imports, else the reference
            try:
                function = self.rust.resolve()
            except TargetUnavailable:
                function = self.python
            return function(*args, **kwargs)
        plan = runtime.plans.get(self) or runtime.plan_for(self)
        return run(runtime, self, plan, None, args, kwargs, OUTSIDE, None)
