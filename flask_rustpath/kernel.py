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
from typing import TYPE_CHECKING, Any, TypedDict

from flask import current_app, has_app_context

from .calling import call_kernel
from .config import EXTENSION_KEY
from .context import BACKENDS, SIDES, Side, current_record
from .errors import RustUnavailable
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
        functools.update_wrapper(self, python)

    def __repr__(self) -> str:
        return f"<Kernel {self.name} python={self.python.__qualname__} rust={self.rust.spec}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        record = current_record.get()
        state = record.state if record is not None else _state_outside_request()
        if state is None:  # no app at all: Rust if it imports, else the reference
            try:
                return self.rust.resolve()(*args, **kwargs)
            except TargetUnavailable:
                return self.python(*args, **kwargs)
        pinned = record.side if record is not None else None
        settings = state.settings_for(self)
        side: Side
        backend = pinned or settings.backend
        if backend == "python":
            return call_kernel(state, self, settings, "python", self.python, args, kwargs)
        function = self.rust.function
        if function is None:
            try:
                function = self.rust.resolve()
            except TargetUnavailable as exc:
                if pinned == "rust":
                    raise RustUnavailable(
                        f"the Rust side of kernel {self.name!r} is unavailable; see the "
                        "server log",
                        kernel=self.name,
                    ) from None
                state.rust_unavailable(self, exc)
                return call_kernel(state, self, settings, "python", self.python, args, kwargs)
        side = "rust"
        return call_kernel(
            state, self, settings, side, function, args, kwargs, shadowed=backend == "shadow"
        )

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


def _state_outside_request() -> RustPathState | None:
    if not has_app_context():
        return None
    state: RustPathState | None = current_app.extensions.get(EXTENSION_KEY)
    return state
