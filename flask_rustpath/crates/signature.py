"""``flask rustpath new --kernel``'s reading of a declared kernel: its Rust signature.

A kernel's Python reference is annotated; each annotation has one Rust type that
``#[rustpath::kernel]`` receives from Python (PyO3) and from the front (JSON) alike.
An ``int`` argument is ``i64``, or ``u64``/``u128`` when the kernel's Rust-side limit
on it is above what the narrower type holds.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.parameters import type_hints
from ..core.spec import KernelSpec
from .layout import CrateError

#: What ``new --kernel`` can write a Rust signature for, as an error message says it.
SUPPORTED = "str, bytes, int, float, bool, list[X], tuple[X, Y, ...], dict[str, X] and X | None"

I64_MAX = 2**63 - 1
U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1


class KernelNotFound(CrateError):
    """``--kernel`` does not name a declared kernel."""


class Unsupported(CrateError):
    """An annotation has no Rust type ``new --kernel`` can write."""


@dataclass(frozen=True)
class RustParameter:
    name: str
    rust: str  # the type in the Rust function's signature
    python: str  # the annotation, as a stub spells it


@dataclass(frozen=True)
class RustSignature:
    """A kernel's function as ``#[rustpath::kernel]`` takes it."""

    function: str
    parameters: tuple[RustParameter, ...]
    result: str  # the Ok type of the function's Result
    python_result: str


def find_kernel(spec: str) -> KernelSpec:
    """The kernel declared at ``spec`` (``package.module:attribute``), imported from the
    current directory as ``flask`` imports an app; :class:`KernelNotFound` saying why not.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute.isidentifier():
        raise KernelNotFound(
            f"--kernel {spec!r}: give it as module:function, e.g. myapp.kernels:top_words"
        )
    here = str(Path.cwd())
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise KernelNotFound(
            f"--kernel {spec!r}: module {module_name!r} does not import "
            f"({type(exc).__name__}: {exc})"
        ) from None
    found = getattr(module, attribute, None)
    if found is None:
        raise KernelNotFound(f"--kernel {spec!r}: {module_name} has no {attribute!r}")
    if not isinstance(found, KernelSpec):
        raise KernelNotFound(
            f"--kernel {spec!r}: {attribute} is not a declared kernel (declare it with "
            "@rustpath.kernel(...) or @rustpath.hot(...))"
        )
    return found


def rust_signature(kernel: KernelSpec) -> RustSignature:
    """The Rust signature of ``kernel``'s reference; :class:`Unsupported` naming the first
    parameter (or the result) whose annotation has none."""
    function = kernel.python.__name__
    hints = type_hints(kernel.python)
    rust_limits = kernel.limits.get("rust", {})
    parameters = []
    for name, parameter in kernel.signature.parameters.items():
        where = f"parameter {name!r} of {kernel.python.__qualname__}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise Unsupported(f"{where}: *args and **kwargs have no Rust form; name each one")
        if parameter.default is not parameter.empty:
            raise Unsupported(
                f"{where} has a default; a Rust kernel takes every argument, so drop it"
            )
        if name in ("deadline", "timeout"):
            raise Unsupported(f"{where}: the name {name!r} is the kernel's own; rename it")
        if name not in hints:
            raise Unsupported(f"{where} has no annotation; annotate it with one of {SUPPORTED}")
        kind = hints[name]
        try:
            rust = _argument(kind, rust_limits.get(name))
        except Unsupported as exc:
            raise Unsupported(f"{where}: {exc}") from None
        parameters.append(RustParameter(name, rust, _python(kind)))
    if "return" not in hints:
        raise Unsupported(
            f"the result of {kernel.python.__qualname__} has no annotation; annotate it "
            f"with one of {SUPPORTED}"
        )
    try:
        result = _owned(hints["return"], result=True)
    except Unsupported as exc:
        raise Unsupported(f"the result of {kernel.python.__qualname__}: {exc}") from None
    return RustSignature(function, tuple(parameters), result, _python(hints["return"]))


def _argument(kind: Any, limit: float | None) -> str:
    """The type of an argument: borrowed where the macro lends one (``&str``, ``&[T]``),
    and an ``int`` as wide as its Rust-side limit needs."""
    if kind is str:
        return "&str"
    if kind is bytes:
        return "&[u8]"
    if kind is int:
        return _int_for(limit)
    if typing.get_origin(kind) is list:
        return f"&[{_owned(kind)[4:-1]}]"  # Vec<T> -> &[T]
    return _owned(kind)


def _int_for(limit: float | None) -> str:
    if limit is None or limit <= I64_MAX:
        return "i64"
    if limit <= U64_MAX:
        return "u64"
    if limit <= U128_MAX:
        return "u128"
    raise Unsupported(f"its Rust-side limit {limit!r} is above u128; lower it")


def _owned(kind: Any, *, result: bool = False) -> str:
    """The owned Rust type of values annotated ``kind`` (a result or an item)."""
    if kind is None or kind is type(None):
        if result:
            return "()"
        raise Unsupported(f"None alone has no Rust form; supported: {SUPPORTED}")
    simple = {str: "String", bytes: "Vec<u8>", int: "i64", float: "f64", bool: "bool"}
    if isinstance(kind, type) and kind in simple:
        return simple[kind]
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return f"Option<{_owned(rest[0])}>"
        raise Unsupported(
            f"{_python(kind)} is a union; only X | None has a Rust form (supported: {SUPPORTED})"
        )
    if origin is list and len(args) == 1:
        return f"Vec<{_owned(args[0])}>"
    if origin is tuple and args and args[-1] is not Ellipsis:
        items = ", ".join(_owned(arg) for arg in args)
        return f"({items},)" if len(args) == 1 else f"({items})"
    if origin is dict and len(args) == 2 and args[0] is str:
        return f"std::collections::HashMap<String, {_owned(args[1])}>"
    raise Unsupported(f"{_python(kind)} has no Rust form; supported: {SUPPORTED}")


def _python(kind: Any) -> str:
    """``kind`` as a stub spells it (``list[str]``, ``int | None``)."""
    if kind is None or kind is type(None):
        return "None"
    if isinstance(kind, type) and not typing.get_args(kind):
        return kind.__name__
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_python(arg) for arg in args)
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else _python(a) for a in args)}]"
    return inspect.formatannotation(kind)
