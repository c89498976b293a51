"""Paired views: one Flask view served at ``<rule>``, ``/python<rule>`` and ``/rust<rule>``.

:func:`paired` marks a view; the pairing middleware (:mod:`flask_rustpath.middleware`)
serves the marked views under the side prefixes, and :func:`~flask_rustpath.url_for`
builds their URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from werkzeug.routing import Map, Rule

from .core.sides import Side

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


class SideRule(Rule):
    """A paired view's rule under a side prefix: the twin of the view's plain rule."""

    side: Side
    plain: Rule


def side_rules(rule: Rule, prefixes: tuple[tuple[str, Side], ...]) -> list[SideRule]:
    """The twins of a paired view's ``rule``, one per side prefix."""
    twins = []
    for prefix, side in prefixes:
        twin = SideRule(prefix + rule.rule, **rule.get_empty_kwargs())
        twin.side = side
        twin.plain = rule
        # Flask's own attribute: whether the rule answers OPTIONS by itself.
        options = getattr(rule, "provide_automatic_options", None)
        if options is not None:
            twin.provide_automatic_options = options  # type: ignore[attr-defined]
        twins.append(twin)
    return twins


def plain_rules(url_map: Map, endpoint: str | None = None) -> Iterator[Rule]:
    """The app's own rules (of ``endpoint`` if given), without the side twins."""
    rules = url_map.iter_rules(endpoint) if endpoint is not None else url_map.iter_rules()
    return (rule for rule in rules if not isinstance(rule, SideRule))
