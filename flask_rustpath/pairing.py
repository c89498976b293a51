"""Paired views: one Flask view served at ``<rule>``, ``/python<rule>`` and ``/rust<rule>``.

:func:`paired` marks a view; the pairing middleware (:mod:`flask_rustpath.middleware`)
serves the marked views under the side prefixes, and :func:`~flask_rustpath.url_for`
builds their URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

PAIRED_ATTRIBUTE = "__rustpath_paired__"


def paired(view: F) -> F:
    """Serve this view at ``/python<rule>`` and ``/rust<rule>`` too.

    Place it directly under the route decorator, above the view's own decorators::

        @bp.route("/stats/<int:post_id>")
        @rustpath.paired
        @login_required
        def stats(post_id): ...

    The view is returned unchanged but for a marker, so it stays sync or async and
    keeps everything its other decorators gave it.
    """
    setattr(view, PAIRED_ATTRIBUTE, True)
    return view


def is_paired(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, PAIRED_ATTRIBUTE, False))
