"""URLs of a paired view's sides: ``url_for(..., side="rust")``.

Inside a request pinned to a side (``/rust/…``), ``flask.url_for`` of a paired view
already builds that side's URL, so links keep a browser on the side it chose
(``RUSTPATH_KEEP_SIDE``; see :func:`flask_rustpath.pairing.building_side`). This
``url_for`` asks for a side, or for the plain URL, explicitly.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import current_app, request
from flask import url_for as flask_url_for

from .core.sides import SIDES, Side
from .pairing import add_side_rules, building_for, is_paired
from .state import get_state


def url_for(endpoint: str, *, side: Side | Literal["plain"] | None = None, **values: Any) -> str:
    """``flask.url_for``, plus ``side="python"`` or ``side="rust"`` for a paired view's
    variants, and ``side="plain"`` for its plain URL even inside a pinned request:
    ``url_for("blog.stats", post_id=3, side="rust")`` → ``/rust/blog/stats/3``.

    Also available in templates as ``rustpath_url_for``.
    """
    if side is None:
        return flask_url_for(endpoint, **values)
    if side not in (*SIDES, "plain"):
        raise ValueError(f"side must be one of {(*SIDES, 'plain')} or None, got {side!r}")
    view = current_app.view_functions.get(endpoint)
    if view is None and endpoint.startswith(".") and request:
        view = current_app.view_functions.get(f"{request.blueprint}{endpoint}")
    if not is_paired(view):
        if side == "plain":
            return flask_url_for(endpoint, **values)
        raise ValueError(f"{endpoint!r} is not a paired view: it has no {side} variant")
    state = get_state()
    if not state.sides_added:
        # Before the app's first request (a script, a test, a CLI command): the twins
        # of the views declared so far; the first request adds any declared later.
        add_side_rules(current_app, state.side_prefixes)
    with building_for(side):
        return flask_url_for(endpoint, **values)
