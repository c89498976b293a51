"""Paired views: one Flask view served at ``<rule>``, ``/python<rule>`` and ``/rust<rule>``.

:func:`paired` marks a view; the pairing middleware (:mod:`flask_rustpath.middleware`)
serves the marked views under the side prefixes, and :func:`~flask_rustpath.url_for`
builds their URLs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TypeVar

from flask import Flask, has_request_context
from flask.globals import request_ctx
from werkzeug.routing import Map, Rule

from .core.record import RECORD_KEY
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
    """A paired view's rule under a side prefix: the twin of the view's plain rule.

    It matches its URL always; it builds one only for the side being built for (see
    :func:`building_side`), so ``url_for`` on a plain request keeps giving plain URLs.
    """

    side: Side
    plain: Rule

    def suitable_for(self, values: Mapping[str, Any], method: str | None = None) -> bool:
        return building_side() == self.side and super().suitable_for(values, method)


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


def add_side_rules(app: Flask, prefixes: tuple[tuple[str, Side], ...]) -> None:
    """Give each paired view's rules their side twins (the rules that have them already
    are skipped, so a second call adds only what was declared since).

    The plain rule's class becomes a subclass that declines to build while a side is
    being built for, so the builder moves on to that side's twin: werkzeug takes the
    first rule of an endpoint that is suitable, and the plain rule comes first.
    """
    views = app.view_functions
    for rule in list(plain_rules(app.url_map)):
        if rule.build_only or rule.redirect_to is not None or _TWINS in rule.__dict__:
            continue
        if not is_paired(views.get(str(rule.endpoint))):
            continue
        twins = side_rules(rule, prefixes)
        setattr(rule, _TWINS, twins)
        rule.__class__ = _paired_rule_class(type(rule))
        for twin in twins:
            app.url_map.add(twin)
        for each in (rule, *twins):
            _never_provides_defaults(each)


def _never_provides_defaults(rule: Rule) -> None:
    """Answer werkzeug's "do you provide defaults for the rule matched?" with no Python
    frame, for a rule without defaults (whose answer is always no), unless its class
    answers the question its own way.

    A match asks each rule of its endpoint that comes before the matched one; a twin
    comes after the plain rule and the other side's twin, so every ``/rust`` request
    would pay two calls of :meth:`~werkzeug.routing.Rule.provides_defaults_for`.
    """
    if rule.defaults is None and type(rule).provides_defaults_for is Rule.provides_defaults_for:
        rule.provides_defaults_for = operator.not_  # type: ignore[method-assign,assignment]


_TWINS = "_rustpath_twins"

# The side ``url_for(..., side=...)`` asks for while it builds; "plain" for the plain URL.
_asked: ContextVar[str | None] = ContextVar("rustpath_url_side", default=None)


@contextmanager
def building_for(side: Side | Literal["plain"]) -> Iterator[None]:
    """Build URLs for ``side`` (or the plain URL) inside this block."""
    token = _asked.set(side)
    try:
        yield
    finally:
        _asked.reset(token)


def building_side() -> Side | None:
    """The side a paired view's URL is built for now: the one ``url_for`` asked for,
    else the side the request being served pinned (unless ``RUSTPATH_KEEP_SIDE`` is
    off), else none (the plain URL)."""
    asked = _asked.get()
    if asked is not None:
        return None if asked == "plain" else asked  # type: ignore[return-value]
    if not has_request_context():
        return None
    record = request_ctx._get_current_object().request.environ.get(RECORD_KEY)  # type: ignore[attr-defined]
    if record is None or record.side is None or not record.state.settings.keep_side:
        return None
    side: Side = record.side
    return side


_PAIRED_CLASSES: dict[type[Rule], type[Rule]] = {}


def _paired_rule_class(base: type[Rule]) -> type[Rule]:
    known = _PAIRED_CLASSES.get(base)
    if known is not None:
        return known

    class PairedRule(base):  # type: ignore[valid-type,misc]
        """A paired view's plain rule: built unless a side is being built for."""

        def suitable_for(self, values: Mapping[str, Any], method: str | None = None) -> bool:
            return building_side() is None and super().suitable_for(values, method)

    _PAIRED_CLASSES[base] = PairedRule
    return PairedRule


def plain_rules(url_map: Map, endpoint: str | None = None) -> Iterator[Rule]:
    """The app's own rules (of ``endpoint`` if given), without the side twins."""
    rules = url_map.iter_rules(endpoint) if endpoint is not None else url_map.iter_rules()
    return (rule for rule in rules if not isinstance(rule, SideRule))
