"""The JSON shorthand: a paired view whose whole body is one kernel call.

``@rustpath.hot("/sum_of_primes/<int:n>", rust="my_crate:sum_of_primes")`` declares a
kernel and a view at that rule answering ``{"result": ...}``. The kernel's arguments
come from the URL's variables and, for the other parameters of the function, from the
query string, a form or a JSON object body, converted by the parameter's type
annotation. A missing or ill-typed parameter answers 400 JSON naming it, so a
``POST /score`` with a JSON body is offloaded with no view code at all.

The view is an ordinary Flask view: ``abort()`` and other HTTP exceptions keep their
status, and the app's error handlers apply outside the JSON errors of
:mod:`flask_rustpath.errors`.
"""

from __future__ import annotations

import logging
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

from .errors import HotRouteError, ImplementationError, MissingParameter, json_response
from .kernel import Kernel
from .pairing import paired
from .rules import rule_variables
from .shadow import ShadowMismatch

log = logging.getLogger("flask_rustpath")

_MISSING = object()


@dataclass(frozen=True)
class Parameter:
    """A kernel parameter read from the request rather than the URL."""

    name: str
    kind: Any  # the annotation: int, float, str, bool, list, dict, or Any
    default: Any


@dataclass(frozen=True, eq=False)
class HotRoute:
    """One JSON shorthand route: a rule, its kernel, and where it is registered."""

    rule: str
    kernel: Kernel
    endpoint: str
    methods: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    blueprint: Blueprint | None = None

    @property
    def name(self) -> str:
        return self.kernel.name

    def view(self) -> Callable[..., Any]:
        """The view function: every call of it is one kernel call."""
        kernel, parameters = self.kernel, self.parameters

        def hot_view(**url_values: Any) -> Any:
            arguments = url_values
            if parameters:
                arguments.update(read_parameters(kernel.name, parameters))
            try:
                result = kernel(**arguments)
            except HotRouteError as exc:
                exc.negotiated = False  # a JSON route answers JSON, whatever the client
                raise
            except (HTTPException, ShadowMismatch):
                raise  # ShadowMismatch: RUSTPATH_SHADOW_RAISE is meant to fail the test
            except Exception:
                log.exception("kernel %r raised", kernel.name)
                raise ImplementationError(
                    f"kernel {kernel.name!r} failed; see the server log", kernel=kernel.name
                ) from None
            try:
                return json_response({"result": result})
            except (TypeError, ValueError) as exc:  # unencodable, non-finite, too long
                raise ImplementationError(
                    f"kernel {kernel.name!r} returned a value strict JSON cannot encode: {exc}",
                    kernel=kernel.name,
                ) from None

        hot_view.__name__ = f"hot_{kernel.name}"
        hot_view.__doc__ = kernel.__doc__
        return paired(hot_view)


def make_hot_route(
    rule: str,
    kernel: Kernel,
    *,
    endpoint: str | None = None,
    methods: tuple[str, ...] | list[str] = ("GET",),
    blueprint: Blueprint | None = None,
) -> HotRoute:
    """Check a shorthand declaration; errors surface at import time."""
    if not rule.startswith("/"):
        raise ValueError(f"hot route rule must start with '/', got {rule!r}")
    variables = {variable.name for variable in rule_variables(rule)}
    unknown = variables - set(kernel.parameters)
    if unknown and not _takes_any_keyword(kernel):
        raise TypeError(
            f"{kernel.python.__qualname__} cannot take the variable(s) "
            f"{', '.join(sorted(unknown))} of {rule!r}"
        )
    parameters = kernel_parameters(kernel, skip=variables)
    return HotRoute(
        rule=rule,
        kernel=kernel,
        endpoint=endpoint or kernel.name,
        methods=tuple(method.upper() for method in methods),
        parameters=parameters,
        blueprint=blueprint,
    )


def kernel_parameters(
    kernel: Kernel, skip: set[str] | frozenset[str] = frozenset()
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


def read_parameters(kernel: str, parameters: tuple[Parameter, ...]) -> dict[str, Any]:
    """The non-URL arguments of a shorthand route, from the request."""
    body: Any = None
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise MissingParameter(
                "the request body must be a JSON object", kernel=kernel, parameter=None
            )
    values: dict[str, Any] = {}
    for parameter in parameters:
        if body is not None and parameter.name in body:
            value = _from_json(parameter, body[parameter.name], kernel)
        elif parameter.name in request.values:
            value = _from_text(parameter, request.values[parameter.name], kernel)
        elif parameter.default is not _MISSING:
            continue
        else:
            raise MissingParameter(
                f"missing parameter {parameter.name!r}", kernel=kernel, parameter=parameter.name
            )
        values[parameter.name] = value
    return values


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


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # unresolvable string annotations: read those parameters as text
        return {}


def _takes_any_keyword(kernel: Kernel) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in kernel.signature.parameters.values())
