"""Errors a kernel call or a hot route answers with: HTTP exceptions.

Each is a :class:`werkzeug.exceptions.HTTPException` and derives from werkzeug's
class for its status (``LimitExceeded`` is an ``UnprocessableEntity``), so inside any
Flask view it behaves like ``abort()``: the app's own error handlers apply when it has
one for the status (``@app.errorhandler(422)``) or the class. Unhandled, it answers in
the kind of response its view makes:

- on a JSON route (the JSON shorthand, the extension's own endpoints), and wherever the
  client asks for JSON (``Accept: application/json``), the body is
  ``{"error": code, "message": text, ...details}``;
- inside any other view (a page calling a kernel), werkzeug's own HTML error page for
  the status, with the same message, as ``abort()`` would give.

Errors that mean "bad input" or "too slow" also derive from the builtin exception a
caller would catch (``ValueError``, ``TimeoutError``), so code around a kernel call
keeps working.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from werkzeug import exceptions as http
from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response as WerkzeugResponse


class HotRouteError(HTTPException):
    """Base class: an HTTP status (``code``), a stable ``error`` code and a message."""

    code = 500
    error: ClassVar[str] = "internal_error"
    # True for the errors a kernel call raises inside any view: they answer in the
    # view's kind of response. The JSON routes set it to False on what they re-raise.
    negotiated: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.details}

    def headers(self) -> dict[str, str]:
        return {}

    def get_response(self, environ: Any = None, scope: Any = None) -> WerkzeugResponse:
        if self.negotiated and not wants_json(environ):
            page: WerkzeugResponse = super().get_response(environ, scope)  # werkzeug's HTML
            page.headers.update(self.headers())
            return page
        response = json_response(self.body(), self.code or 500)
        response.headers.update(self.headers())
        return response


def wants_json(environ: Any) -> bool:
    """Whether the client names a JSON type (``application/json``, ``…+json``) in its
    ``Accept`` header, at least as high as HTML. No header, ``*/*`` or a browser's
    header get HTML, as from ``abort()``."""
    if not environ:
        return True  # no request to answer: the JSON body is the useful form
    accept = parse_accept_header(environ.get("HTTP_ACCEPT"), MIMEAccept)
    named_json = max((q for value, q in accept if _is_json(value)), default=0)
    return named_json > 0 and named_json >= accept["text/html"]


def _is_json(media_type: str) -> bool:
    """``application/json`` or a ``+json`` type, in any case and with any parameters."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return bare == "application/json" or bare.endswith("+json")


def json_text(body: Any) -> str:
    """Strict JSON (RFC 8259) and a newline: a non-finite float raises ``ValueError``
    instead of writing ``NaN``/``Infinity``, which strict parsers refuse."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def json_response(body: Any, status: int = 200) -> WerkzeugResponse:
    """A strict JSON response (see :func:`json_text`)."""
    return WerkzeugResponse(json_text(body), status, mimetype="application/json")


class NotEnabled(HotRouteError, http.NotFound):
    """A feature that is switched off (the compare endpoints outside debug mode)."""

    code = 404
    error = "not_enabled"


class NotFoundJSON(HotRouteError, http.NotFound):
    """A URL under a hot route's rule that fits none of its variants."""

    code = 404
    error = "not_found"


class InvalidArgument(HotRouteError, http.NotFound):
    """The URL does not fit the route's converters (e.g. ``abc`` for ``<int:n>``)."""

    code = 404
    error = "invalid_argument"


class MethodNotAllowed(HotRouteError, http.MethodNotAllowed):
    code = 405
    error = "method_not_allowed"

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.details.get("allowed", ()))}


class MissingParameter(HotRouteError, http.BadRequest, ValueError):
    """A hot route's query-string, form or JSON parameter is missing or ill-typed."""

    code = 400
    error = "invalid_parameter"


class BadInput(HotRouteError, http.BadRequest, ValueError):
    """A kernel refused its input (it raised ``ValueError`` or ``OverflowError``)."""

    code = 400
    error = "bad_input"
    negotiated = True

    @classmethod
    def refused(cls, kernel: str, side: str, reason: str) -> BadInput:
        """``side`` of ``kernel`` refused its input, saying ``reason``."""
        return cls(reason, kernel=kernel, side=side)


class LimitExceeded(HotRouteError, http.UnprocessableEntity):
    """An argument is above the limit configured for the side that would serve it."""

    code = 422
    error = "limit_exceeded"
    negotiated = True

    @classmethod
    def above(
        cls, kernel: str, side: str, argument: str, value: object, limit: float
    ) -> LimitExceeded:
        """``argument=value`` is above ``side``'s ``limit`` for ``kernel``."""
        return cls(
            f"{argument}={value} is above the {side} limit of {limit} for {kernel!r}",
            argument=argument,
            limit=limit,
            side=side,
        )

    @classmethod
    def longer(
        cls, kernel: str, side: str, argument: str, length: object, limit: float
    ) -> LimitExceeded:
        """``argument`` (text, bytes or a list) has ``length`` items, above ``side``'s
        ``limit`` for ``kernel``; the value itself is not echoed (it may be large)."""
        return cls(
            f"{argument} has length {length}, above the {side} limit of {limit} for {kernel!r}",
            argument=argument,
            limit=limit,
            side=side,
        )


class Overloaded(HotRouteError, http.ServiceUnavailable):
    """A deliberate cap had no slot free within ``RUSTPATH_ADMISSION_WAIT``: try again."""

    code = 503
    error = "overloaded"
    negotiated = True
    RETRY_AFTER_SECONDS = 1  # a slot frees when one call ends: soon

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class RustUnavailable(HotRouteError, http.ServiceUnavailable):
    """The ``/rust`` side was asked for, but its module does not import (reason logged)."""

    code = 503
    error = "rust_unavailable"
    negotiated = True


class DeadlineExceeded(HotRouteError, http.GatewayTimeout, TimeoutError):
    """A kernel call ran past its deadline and was stopped."""

    code = 504
    error = "deadline_exceeded"
    negotiated = True

    @classmethod
    def stopped(cls, kernel: str, side: str) -> DeadlineExceeded:
        return cls(
            f"the {side} side of {kernel!r} ran past its deadline and was stopped",
            kernel=kernel,
            side=side,
        )


class ImplementationError(HotRouteError, http.InternalServerError):
    """A hot route's implementation raised an unexpected exception (details in the log)."""

    error = "implementation_error"

    @classmethod
    def unencodable(cls, kernel: str, reason: str) -> ImplementationError:
        """``kernel`` returned a value strict JSON cannot encode, because of ``reason``."""
        return cls(
            f"kernel {kernel!r} returned a value strict JSON cannot encode: {reason}",
            kernel=kernel,
        )


class RustPanic(HotRouteError, http.InternalServerError, RuntimeError):
    """The Rust side panicked; the worker survives and keeps serving."""

    error = "rust_panic"
    negotiated = True

    @classmethod
    def of(cls, kernel: str) -> RustPanic:
        return cls(f"the Rust side of {kernel!r} panicked; see the server log", kernel=kernel)


class Misconfigured(HotRouteError, http.InternalServerError, ValueError):
    """A ``RUSTPATH_*`` setting or a declaration is invalid (raised at start-up)."""

    error = "misconfigured"


class InternalError(HotRouteError, http.InternalServerError):
    """flask-rustpath itself failed (a bug: the traceback is in the server log)."""
