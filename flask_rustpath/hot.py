"""The JSON shorthand: a paired view whose whole body is one kernel call.

``@rustpath.hot("/sum_of_primes/<int:n>", rust="my_crate:sum_of_primes")`` declares a
kernel and a view at that rule answering ``{"result": ...}``. The kernel's arguments
come from the URL's variables and, for the other parameters of the function, from the
query string, a form or a JSON object body, converted by the parameter's type
annotation. A missing or ill-typed parameter answers 400 JSON naming it, so a
``POST /score`` with a JSON body is offloaded with no view code at all.

The view is an ordinary Flask view: ``abort()`` and other HTTP exceptions keep their
status, and the app's error handlers apply outside the JSON errors of
:mod:`flask_rustpath.core.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from .core.errors import HotRouteError, ImplementationError, MissingParameter, json_text
from .core.kernel import Kernel
from .core.parameters import Parameter, arguments_from, kernel_parameters
from .core.shadow import ShadowMismatch
from .pairing import paired
from .support.rules import rule_variables

log = logging.getLogger("flask_rustpath")

Native = Literal["auto", "always", "never"]
NATIVE_CHOICES: tuple[Native, ...] = ("auto", "always", "never")
# Set on a JSON route's view function: the route it serves.
ROUTE_ATTRIBUTE = "__rustpath_route__"


@dataclass(frozen=True, eq=False)
class HotRoute:
    """One JSON shorthand route: a rule, its kernel, and where it is registered."""

    rule: str
    kernel: Kernel
    endpoint: str
    methods: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    blueprint: Blueprint | None = None
    # Whether the Rust front answers it natively (see flask_rustpath.serving.front):
    # "auto" where the answer cannot differ from Flask's, "always" even though
    # request hooks or error handlers apply (they are skipped there), "never".
    native: Native = "auto"

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
                return result_response(result)
            except (TypeError, ValueError) as exc:  # unencodable, non-finite, too long
                raise ImplementationError.unencodable(kernel.name, str(exc)) from None

        hot_view.__name__ = f"hot_{kernel.name}"
        hot_view.__doc__ = kernel.__doc__
        setattr(hot_view, ROUTE_ATTRIBUTE, self)
        return paired(hot_view)


def result_response(result: Any) -> Response:
    """What a JSON route answers for ``result``: ``{"result": ...}`` in strict JSON;
    ``TypeError`` or ``ValueError`` when strict JSON cannot encode it."""
    return Response(json_text({"result": result}), mimetype="application/json")


def make_hot_route(
    rule: str,
    kernel: Kernel,
    *,
    endpoint: str | None = None,
    methods: tuple[str, ...] | list[str] = ("GET",),
    blueprint: Blueprint | None = None,
    native: Native = "auto",
) -> HotRoute:
    """Check a shorthand declaration; errors surface at import time."""
    if not rule.startswith("/"):
        raise ValueError(f"hot route rule must start with '/', got {rule!r}")
    if native not in NATIVE_CHOICES:
        raise ValueError(f"native must be one of {', '.join(NATIVE_CHOICES)}, got {native!r}")
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
        native=native,
    )


def read_parameters(kernel: str, parameters: tuple[Parameter, ...]) -> dict[str, Any]:
    """The non-URL arguments of a shorthand route, from the request."""
    body: Any = None
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise MissingParameter(
                "the request body must be a JSON object", kernel=kernel, parameter=None
            )
    return arguments_from(kernel, parameters, request.values, body)


def _takes_any_keyword(kernel: Kernel) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in kernel.signature.parameters.values())
