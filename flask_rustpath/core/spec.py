"""What a kernel declares: its Python reference, its Rust twin and its options.

A :class:`KernelSpec` is checked once, when it is declared, and read by everything
below the call path: settings, admission, shadow mode, comparison and parity. The
call itself is :class:`~flask_rustpath.core.kernel.Kernel`, one layer up.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from ..support.targets import RustTarget
from .sides import BACKENDS, SIDES

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from Python 3.11


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


class KernelSpec:
    """A Python function with a Rust twin, and the options it was declared with."""

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
        # Named and documented like the function it wraps (update_wrapper is typed for
        # callables; a spec becomes one in its subclass Kernel).
        functools.update_wrapper(self, python)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<Kernel {self.name} python={self.python.__qualname__} rust={self.rust.spec}>"

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
