"""URLs of a paired view's sides: ``url_for(..., side="rust")``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask import url_for as flask_url_for

from .core.sides import SIDES, Side
from .pairing import is_paired
from .state import RustPathState, get_state


def url_for(endpoint: str, *, side: Side | None = None, **values: Any) -> str:
    """``flask.url_for``, plus ``side="python"`` or ``side="rust"`` for a paired view's
    variants: ``url_for("blog.stats", post_id=3, side="rust")`` → ``/rust/blog/stats/3``.

    Also available in templates as ``rustpath_url_for``.
    """
    url = flask_url_for(endpoint, **values)
    if side is None:
        return url
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES} or None, got {side!r}")
    view = current_app.view_functions.get(endpoint)
    if view is None and endpoint.startswith(".") and request:
        blueprint = request.blueprint
        view = current_app.view_functions.get(f"{blueprint}{endpoint}")
    if not is_paired(view):
        raise ValueError(f"{endpoint!r} is not a paired view: it has no {side} variant")
    return with_side(url, side, get_state())


def with_side(url: str, side: Side, state: RustPathState) -> str:
    """Insert ``side``'s prefix into a URL built for the plain rule, after the
    script root (an app mounted under a path keeps its mount point)."""
    script_root = request.script_root if request else ""
    return insert_prefix(url, state.settings.prefix(side), script_root)


def insert_prefix(url: str, prefix: str, script_root: str) -> str:
    """``url`` with ``prefix`` inserted after its scheme, host and script root."""
    start = 0
    scheme_end = url.find("://")
    if scheme_end != -1:
        start = url.find("/", scheme_end + 3)
        if start == -1:
            return url + prefix
    script_root = script_root.rstrip("/")
    if script_root and url.startswith(script_root, start):
        start += len(script_root)
    return url[:start] + prefix + url[start:]
