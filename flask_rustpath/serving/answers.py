"""The front's native answers, rendered from the Flask side's own declarations.

A native route must answer exactly as Flask would: the same status, JSON body and
headers for a result and for every error a kernel call can end in. Rather than write
that contract a second time in Rust, the front is sent, per route, each answer as
Python builds it (the error classes of :mod:`flask_rustpath.core.errors`, rendered by
their own ``get_response``, and the headers of :mod:`flask_rustpath.support.headers`),
with the parts only known per request left as ``{slot}`` placeholders in Python's
``str.format`` syntax (``{{`` and ``}}`` are literal braces):

- ``{result}``: the kernel's result, JSON text, inserted as it is;
- ``{value}`` (a limited argument's value, or a text argument's length) and
  ``{message}`` (a kernel's refusal): text, inserted JSON-escaped inside a JSON string;
- ``{ms}``: the call's duration in milliseconds, with three decimals.

The front fills the slots and adds nothing of its own (``rust_src/front/native.rs``).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Response

from ..core.admission import refusal
from ..core.errors import (
    BadInput,
    DeadlineExceeded,
    HotRouteError,
    ImplementationError,
    LimitExceeded,
    RustPanic,
)
from ..hot import result_response
from ..support.headers import BACKEND_HEADER, TIMING_HEADER, timing

# What stands for a slot while the answer is built: a string no kernel name, message
# or limit holds, which JSON encodes as "\u0000name\u0000".
_MARK = "\x00"


def _slot(name: str) -> str:
    return f"{_MARK}{name}{_MARK}"


# A slot as JSON writes it, and as a header holds it; a raw slot takes its quotes too.
_IN_JSON = re.compile(r'"\\u0000(?P<raw>result)\\u0000"|\\u0000(?P<text>\w+)\\u0000')
_IN_TEXT = re.compile("\x00(?P<text>\\w+)\x00")


def _template(text: str, slots: re.Pattern[str]) -> str:
    """``text`` with its literal braces doubled and its ``slots`` as ``{name}``."""
    escaped = text.replace("{", "{{").replace("}", "}}")
    return slots.sub(lambda slot: "{" + slot[slot.lastgroup or 0] + "}", escaped)


def _answer(response: Response, extra: list[tuple[str, str]]) -> dict[str, Any]:
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    return {
        "status": response.status_code,
        "headers": [[name, _template(value, _IN_TEXT)] for name, value in [*headers, *extra]],
        "body": _template(response.get_data(as_text=True), _IN_JSON),
    }


def _failure(kernel: str, error: HotRouteError) -> dict[str, Any]:
    """The answer for ``error`` from a native route: the JSON a JSON route answers."""
    error.negotiated = False
    extra = [(BACKEND_HEADER, "rust"), (TIMING_HEADER, timing("rust", kernel, None))]
    return _answer(error.get_response(), extra)


def limit_answer(
    kernel: str, argument: str, limit: float, *, length: bool = False
) -> dict[str, Any]:
    """The 422 for ``argument`` above ``limit``; ``{value}`` is the argument's value,
    or with ``length`` (a text argument, whose limit is a length) its length."""
    if length:
        error = LimitExceeded.longer(kernel, "rust", argument, _slot("value"), limit)
    else:
        error = LimitExceeded.above(kernel, "rust", argument, _slot("value"), limit)
    return _failure(kernel, error)


def native_answers(kernel: str, admission_wait: float) -> dict[str, Any]:
    """Every other answer a native route of ``kernel`` can give, as templates."""
    ok_timing = timing("rust", kernel, 0.0).replace(";dur=0.000;", f";dur={_slot('ms')};", 1)
    return {
        "ok": _answer(
            result_response(_slot("result")),
            [(BACKEND_HEADER, "rust"), (TIMING_HEADER, ok_timing)],
        ),
        "overloaded": _failure(kernel, refusal(kernel, "rust", admission_wait, "the front")),
        "bad_input": _failure(kernel, BadInput.refused(kernel, "rust", _slot("message"))),
        "deadline_exceeded": _failure(kernel, DeadlineExceeded.stopped(kernel, "rust")),
        "rust_panic": _failure(kernel, RustPanic.of(kernel)),
        "invalid_result": _failure(
            kernel,
            ImplementationError.unencodable(kernel, "its native entry point wrote invalid JSON"),
        ),
    }
