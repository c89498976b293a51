"""A kernel's parameters, and their values converted from text or JSON by annotation.

The JSON shorthand routes read their arguments this way from a request, and the tools
(compare, the dashboard) from a command line or a form, so a value is accepted or
refused the same way wherever it is typed.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import Any

from .errors import MissingParameter
from .spec import KernelSpec

_MISSING = object()


@dataclass(frozen=True)
class Parameter:
    """A kernel parameter read from the request rather than the URL."""

    name: str
    kind: Any  # the annotation: int, float, str, bool, list, dict, or Any
    default: Any


def kernel_parameters(
    kernel: KernelSpec, skip: set[str] | frozenset[str] = frozenset()
) -> tuple[Parameter, ...]:
    """The parameters of ``kernel`` other than ``skip``, with their annotated types."""
    hints = _type_hints(kernel.python)
    parameters = []
    for name, parameter in kernel.signature.parameters.items():
        if name in skip or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind == parameter.POSITIONAL_ONLY:
            raise TypeError(f"{kernel.python.__qualname__}: {name} is positional-only")
        default = _MISSING if parameter.default is parameter.empty else parameter.default
        parameters.append(Parameter(name, hints.get(name, Any), default))
    return tuple(parameters)


def arguments_from(
    kernel: str, parameters: tuple[Parameter, ...], values: Mapping[str, str], body: Any
) -> dict[str, Any]:
    """``parameters``' arguments from a JSON object ``body`` (or ``None``), else from
    text ``values``; :class:`MissingParameter` names a missing or ill-typed one."""
    arguments: dict[str, Any] = {}
    for parameter in parameters:
        if body is not None and parameter.name in body:
            value = _from_json(parameter, body[parameter.name], kernel)
        elif parameter.name in values:
            value = _from_text(parameter, values[parameter.name], kernel)
        elif parameter.default is not _MISSING:
            continue
        else:
            raise MissingParameter(
                f"missing parameter {parameter.name!r}", kernel=kernel, parameter=parameter.name
            )
        arguments[parameter.name] = value
    return arguments


# Annotations whose values are typed as text on a command line or in a form; any other
# (list, dict, …) is read as JSON.
TEXT_KINDS = (int, float, bool, str, Any)


def arguments_from_text(
    kernel: KernelSpec, raw: Mapping[str, str], values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``kernel``'s keyword arguments from text (a command line, a form, a query string),
    converted by each parameter's annotation exactly as a JSON shorthand route converts
    a query string; values of other annotations (``list[int]``, ``dict``) are read as
    JSON. ``values`` (a JSON body, values already converted) take precedence over
    ``raw`` and are checked against the annotations as a JSON body is. Raises
    :class:`MissingParameter` (400) naming a missing or ill-typed parameter, and
    ``TypeError`` for a kernel whose parameters cannot be named."""
    parameters = kernel_parameters(kernel)
    kinds = {parameter.name: parameter.kind for parameter in parameters}
    query: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in kinds or (values is not None and name in values):
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
    body.update(values or {})
    return arguments_from(kernel.name, parameters, query, body or None)


def _from_text(parameter: Parameter, text: str, kernel: str) -> Any:
    kind = _without_none(parameter.kind)
    try:
        if kind is int:
            if not text.lstrip("-").isascii() or not text.lstrip("-").isdigit():
                raise ValueError
            return int(text)
        if kind is float:
            value = float(text) if text.isascii() else math.nan
            if not math.isfinite(value):
                raise ValueError
            return value
        if kind is bool:
            return {"true": True, "1": True, "false": False, "0": False}[text.lower()]
        if kind in (str, Any):
            return text
    except (ValueError, KeyError, OverflowError):
        pass
    raise _ill_typed(parameter, kernel)


def _from_json(parameter: Parameter, value: Any, kernel: str) -> Any:
    converted = _json_value(parameter.kind, value)
    if converted is _MISSING:
        raise _ill_typed(parameter, kernel)
    return converted


def _json_value(kind: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as ``kind``, or ``_MISSING`` when it does not fit.

    Checks what a kernel's signature promises it will get: ``X | None`` takes null,
    ``list[X]`` and ``dict[str, X]`` have their items checked, and a float is finite
    (Python's ``json`` reads ``NaN`` and ``Infinity``, which no limit can compare).
    """
    if kind is Any:
        return value
    if value is None:
        return None if _allows_none(kind) else _MISSING
    kind = _without_none(kind)
    if kind is bool:
        return value if isinstance(value, bool) else _MISSING
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISSING
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _MISSING
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            return _MISSING
        return number if math.isfinite(number) else _MISSING
    if kind is str:
        return value if isinstance(value, str) else _MISSING
    origin, args = typing.get_origin(kind) or kind, typing.get_args(kind)
    if origin is list and isinstance(value, list):
        item = args[0] if args else Any
        items = [_json_value(item, v) for v in value]
        return _MISSING if any(v is _MISSING for v in items) else items
    if origin is dict and isinstance(value, dict):
        item = args[1] if len(args) == 2 else Any
        values = {k: _json_value(item, v) for k, v in value.items()}
        return _MISSING if any(v is _MISSING for v in values.values()) else values
    return value if isinstance(origin, type) and isinstance(value, origin) else _MISSING


def allows_none(kind: Any) -> bool:
    """Whether a parameter annotated ``kind`` takes JSON ``null``."""
    return _allows_none(kind)


def without_none(kind: Any) -> Any:
    """``X`` for ``X | None`` (or ``Optional[X]``); ``kind`` otherwise."""
    return _without_none(kind)


def _allows_none(kind: Any) -> bool:
    return kind is Any or type(None) in typing.get_args(kind)


def _without_none(kind: Any) -> Any:
    """``X`` for ``X | None`` (or ``Optional[X]``); ``kind`` otherwise."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def _ill_typed(parameter: Parameter, kernel: str) -> MissingParameter:
    kind = getattr(parameter.kind, "__name__", str(parameter.kind))
    return MissingParameter(
        f"parameter {parameter.name!r} must be {kind}", kernel=kernel, parameter=parameter.name
    )


# Values whose limit is a bound on their length, not their value.
SIZED_TYPES: tuple[type[Sized], ...] = (str, bytes, bytearray, list, tuple)


def is_sized_kind(kind: Any) -> bool:
    """Whether a parameter annotated ``kind`` (``str``, ``bytes``, ``list[int]``,
    ``str | None``, …) takes values whose limit is a length."""
    kind = _without_none(kind)
    origin = typing.get_origin(kind) or kind
    return isinstance(origin, type) and issubclass(origin, SIZED_TYPES)


def type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """``function``'s resolved annotations; ``{}`` when they cannot be resolved (its
    parameters are then read as text and their limits by their values)."""
    return _type_hints(function)


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # unresolvable string annotations: read those parameters as text
        return {}


def _takes_any_keyword(kernel: KernelSpec) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in kernel.signature.parameters.values())
