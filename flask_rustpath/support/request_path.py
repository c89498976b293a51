"""The per-request path in Python: the reference of ``rust_src/request_path.rs``, used
when the native module does not import (a source checkout not built yet, or a platform
without a wheel), so the app still serves, on the Python side of every kernel.

It does what the native code does, more slowly: the pairing middleware's base makes
each request's :class:`CallRecord` with the side a prefixed URL pins, and wraps
``start_response`` to add the kernel headers and hold back a routing error for the
subclass's ``_routing_answer``; a kernel's base sends every call to its ``_call``, the
Python call policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .headers import BACKEND_HEADER, TIMING_HEADER, timing

_installed: dict[str, Any] = {}


def configure_request_path(
    current: Callable[[], Any],
    to_environ: Sequence[str],
    record_key: str,
    side_rule: type,
    failed_call: Callable[..., Any],
    no_write: Callable[[bytes], object],
) -> None:
    """Install how a request's pieces are found (the first call wins, as natively)."""
    if not _installed:
        _installed.update(record_key=record_key, side_rule=side_rule, no_write=no_write)


class CallRecord:
    """One request: its app's runtime, the side its URL pinned, its kernel calls."""

    __slots__ = ("calls", "side", "state")

    def __init__(self, state: Any, side: str | None) -> None:
        self.state = state  # (the native record also holds state.digests, for its call)
        self.side = side
        self.calls: list[Any] = []


class KernelCall:
    """A kernel's base: every call goes to the Python call policy."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(args, kwargs)  # type: ignore[attr-defined]


class SidePaths:
    """The pairing middleware's base (its subclass sets ``prefixes``, and provides
    ``_first_request`` and ``_routing_answer``)."""

    ready = False
    hot = True
    wsgi_app: Any
    state: Any
    prefixes: tuple[tuple[str, str], ...]

    def __new__(cls, app: Any, wsgi_app: Any, state: Any) -> SidePaths:
        # As the native base: the instance takes the wrapped app and the runtime when
        # it is made, before the subclass's __init__.
        self = super().__new__(cls)
        self.wsgi_app = wsgi_app
        self.state = state
        return self

    def _side_of(self, path: str) -> str | None:
        for prefix, side in self.prefixes:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return side
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not self.ready:
            self._first_request()  # type: ignore[attr-defined]
        record = CallRecord(self.state, self._side_of(environ.get("PATH_INFO", "")))
        environ[_installed["record_key"]] = record
        hot = self.hot
        held: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if record.calls:
                headers.extend(_kernel_headers(record.calls))
            elif record.side is not None and _served_pinned(environ):
                headers.append((BACKEND_HEADER, record.side))
            if hot and status[:3] in ("404", "405"):
                held[:] = (status, headers, exc_info)
                return _installed["no_write"]
            return start_response(status, headers, exc_info)

        body: Iterable[bytes] = self.wsgi_app(environ, start)
        if held:
            answer: Iterable[bytes] = self._routing_answer(  # type: ignore[attr-defined]
                environ, start_response, body, *held
            )
            return answer
        return body


def _served_pinned(environ: dict[str, Any]) -> bool:
    request = environ.get("werkzeug.request")
    return isinstance(getattr(request, "url_rule", None), _installed["side_rule"])


def _kernel_headers(calls: list[Any]) -> list[tuple[str, str]]:
    sides = ", ".join(dict.fromkeys(side for _, side, _, _ in calls))
    entries = ", ".join(timing(side, name, seconds) for name, side, seconds, _ in calls)
    return [(BACKEND_HEADER, sides), (TIMING_HEADER, entries)]
