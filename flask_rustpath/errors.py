"""Errors a hot route answers with, each rendered as a JSON body with its HTTP status.

Clients of a hot route never see an HTML traceback: bad input, limits, a missing
native module, an exception or a Rust panic all become ``{"error": code,
"message": text, ...details}`` with the status that fits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Response, current_app


class HotRouteError(Exception):
    """Base class: an HTTP status, a stable error code and a human-readable message."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_response(self) -> Response:
        body = {"error": self.code, "message": self.message, **self.details}
        response = current_app.json.response(body)
        response.status_code = self.status
        return response


class NotEnabled(HotRouteError):
    """A feature that is switched off (the compare endpoints outside debug mode)."""

    status = 404
    code = "not_enabled"


class InvalidArgument(HotRouteError):
    """The URL does not fit the route's converters (e.g. ``abc`` for ``<int:n>``)."""

    status = 404
    code = "invalid_argument"


class MethodNotAllowed(HotRouteError):
    status = 405
    code = "method_not_allowed"

    def to_response(self) -> Response:
        response = super().to_response()
        response.headers["Allow"] = ", ".join(self.details.get("allowed", ()))
        return response


class BadInput(HotRouteError):
    """The implementation rejected its input (it raised ``ValueError`` or ``OverflowError``)."""

    status = 400
    code = "bad_input"


class LimitExceeded(HotRouteError):
    """An argument is above the limit configured for the side that would serve it."""

    status = 422
    code = "limit_exceeded"


class RustUnavailable(HotRouteError):
    status = 503
    code = "rust_unavailable"


class ImplementationError(HotRouteError):
    """The implementation raised an unexpected exception (details are in the server log)."""

    code = "implementation_error"


class RustPanic(HotRouteError):
    """The Rust implementation panicked; the worker survives and keeps serving."""

    code = "rust_panic"


class Misconfigured(HotRouteError):
    code = "misconfigured"


class InternalError(HotRouteError):
    """flask-rustpath itself failed (a bug: the traceback is in the server log)."""


def is_rust_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is PyO3's ``PanicException``, from any PyO3 extension.

    Each PyO3 extension has its own ``PanicException`` class, and it derives from
    ``BaseException`` so that ordinary ``except Exception`` does not swallow it. It is
    recognised by its name and module, which PyO3 keeps stable.
    """
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"
