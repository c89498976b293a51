"""The one module that reads Flask's registries, where Flask has no public API for it.

The front answers a JSON route natively only when Flask would add nothing to the
answer: no request hook, URL value preprocessor or error handler applies to the route,
and no WSGI middleware wraps the app. Flask offers no public question for "what applies
to this endpoint"; it keeps the answer in dicts keyed by blueprint scope
(``before_request_funcs`` and the like, documented attributes of
:class:`flask.sansio.scaffold.Scaffold`). Every read of them is here, so a change in a
Flask release breaks one module, and ``tests/test_flask_internals.py`` runs against the
Flask release CI installs (the newest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from flask import Flask


def scopes(endpoint: str) -> list[str | None]:
    """The app (``None``) and each blueprint an endpoint belongs to: ``a``, ``a.b``."""
    parts = endpoint.split(".")[:-1]
    return [None, *(".".join(parts[: i + 1]) for i in range(len(parts)))]


def hooks_applying(app: Flask, endpoint: str) -> list[str]:
    """Each request hook that applies to ``endpoint``, as ``"before_request hook
    count_request"``, in the order Flask runs the kinds."""
    hooks: dict[str, Mapping[str | None, list[Any]]] = {
        "before_request": app.before_request_funcs,
        "after_request": app.after_request_funcs,
        "url_value_preprocessor": app.url_value_preprocessors,
    }
    found = []
    for kind, registry in hooks.items():
        for scope in scopes(endpoint):
            for hook in registry.get(scope) or ():
                name = getattr(hook, "__qualname__", None) or repr(hook)
                found.append(f"{kind} hook {name}")
    return found


def handles_errors(
    app: Flask, endpoint: str, statuses: frozenset[int], errors: tuple[type[Exception], ...]
) -> bool:
    """Whether an error handler of the app or a blueprint of ``endpoint`` would handle
    one of ``statuses``, or an exception class that one of ``errors`` derives from."""
    for scope in scopes(endpoint):
        for code, handlers in app.error_handler_spec.get(scope, {}).items():
            if code in statuses or (
                code is None and any(issubclass(e, kind) for kind in handlers for e in errors)
            ):
                return True
    return False


def wsgi_app_is(app: Flask, middleware: type[Any]) -> bool:
    """Whether ``app.wsgi_app`` is exactly ``middleware`` around Flask's own ``wsgi_app``:
    any other wrapper runs Python per request."""
    outer = app.wsgi_app
    inner = getattr(outer, "wsgi_app", None)
    return isinstance(outer, middleware) and (
        getattr(inner, "__func__", None) is type(app).wsgi_app
    )


def request_context_getter() -> Callable[[], Any]:
    """A callable that returns the request context being served, or ``None``.

    A kernel call asks this once per call, so it is Flask's own context variable read
    with no Python frame: the public proxy, ``flask.globals.request_ctx``, costs a few
    frames more on each call. A Flask without the variable gets the proxy.
    """
    try:
        from flask.globals import _cv_request
    except ImportError:  # pragma: no cover - a Flask release that dropped it
        from flask import has_request_context
        from flask.globals import request_ctx

        def current() -> Any:
            return request_ctx._get_current_object() if has_request_context() else None  # type: ignore[attr-defined]

        return current
    return partial(_cv_request.get, None)
