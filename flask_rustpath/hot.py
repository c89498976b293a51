"""Hot routes: a URL rule with a Python implementation and a Rust one.

A :class:`HotRoute` is only a declaration; registering it on an app (see
:mod:`flask_rustpath.state`) adds its three URLs. :class:`HotRoutes` collects
declarations made with the :meth:`HotRoutes.hot` decorator, which is the one way
routes are declared, the built-in ones included.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict, TypeVar

from werkzeug.routing import parse_converter_args

from .targets import RustTarget

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from Python 3.11

F = TypeVar("F", bound=Callable[..., Any])

Side = Literal["python", "rust"]
SIDES: tuple[Side, ...] = ("python", "rust")
# What may serve a plain rule: a side, or "shadow" (Rust answers, Python is compared).
Backend = Literal["python", "rust", "shadow"]
BACKENDS: tuple[Backend, ...] = ("rust", "python", "shadow")


@dataclass(frozen=True, eq=False)
class HotRoute:
    """One hot route: served at ``/python<rule>``, ``/rust<rule>`` and ``<rule>``."""

    rule: str
    python: Callable[..., Any]
    rust: RustTarget
    name: str
    backend: str | None = None
    limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    examples: tuple[Mapping[str, Any], ...] = ()
    methods: tuple[str, ...] = ("GET",)
    compare: Callable[[Any, Any], bool] | None = None
    shadow_rate: float | None = None
    strategy: Any = None  # a hypothesis strategy of keyword-argument dicts

    @cached_property  # compiling a werkzeug rule costs more than a whole request
    def arguments(self) -> frozenset[str]:
        """Names of the rule's variables, e.g. ``{"n"}`` for ``/sum_of_primes/<int:n>``."""
        return rule_arguments(self.rule)


# <int:n>, <int(signed=True):n>, <n> → converter, its arguments, variable name
RULE_VARIABLE = re.compile(
    r"<(?:(?P<converter>[^<>:(]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[^<>:]+)>"
)


class RuleVariable(NamedTuple):
    name: str
    converter: str  # "default" when the rule names none
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def rule_variables(rule: str) -> tuple[RuleVariable, ...]:
    """The variables of ``rule`` in order of appearance, with their converters."""
    found = []
    for match in RULE_VARIABLE.finditer(rule):
        args, kwargs = parse_converter_args(match["args"]) if match["args"] else ((), {})
        found.append(RuleVariable(match["name"], match["converter"] or "default", args, kwargs))
    return tuple(found)


def rule_arguments(rule: str) -> frozenset[str]:
    """The variable names of ``rule``, read from the text: an app's custom converters
    are not known when a route is declared."""
    return frozenset(variable.name for variable in rule_variables(rule))


class HotOptions(TypedDict, total=False):
    """Optional settings of a hot route (see :meth:`HotRoutes.hot`)."""

    name: str | None
    backend: str | None
    limits: Mapping[str, Mapping[str, float]] | None
    examples: Sequence[Mapping[str, Any]]
    methods: Sequence[str]
    compare: Callable[[Any, Any], bool] | None
    shadow_rate: float | None
    strategy: Any


def make_hot_route(
    function: Callable[..., Any],
    rule: str,
    *,
    rust: str | Callable[..., Any],
    **options: Unpack[HotOptions],
) -> HotRoute:
    """Check a declaration and build its :class:`HotRoute`; errors surface at import time."""
    misspelt = set(options) - set(HotOptions.__annotations__)
    if misspelt:
        raise TypeError(f"unknown hot route option(s) {sorted(misspelt)}")
    name = options.get("name")
    backend = options.get("backend")
    shadow_rate = options.get("shadow_rate")
    if not rule.startswith("/"):
        raise ValueError(f"hot route rule must start with '/', got {rule!r}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if shadow_rate is not None and not 0 <= shadow_rate <= 1:
        raise ValueError(f"shadow_rate must be from 0 to 1, got {shadow_rate!r}")
    limits = dict(options.get("limits") or {})
    unknown = set(limits) - set(SIDES)
    if unknown:
        raise ValueError(f"limits are keyed by side {SIDES}; unknown keys {sorted(unknown)}")
    arguments = rule_arguments(rule)
    try:
        inspect.signature(function).bind(**dict.fromkeys(arguments))
    except TypeError as exc:
        raise TypeError(
            f"{function.__qualname__} cannot be called with the variables of {rule!r} "
            f"({', '.join(sorted(arguments)) or 'none'}): {exc}"
        ) from None
    for side, bounds in limits.items():
        stray = set(bounds) - arguments
        if stray:
            raise ValueError(f"{side} limits name {sorted(stray)}, which {rule!r} does not have")
    return HotRoute(
        rule=rule,
        python=function,
        rust=RustTarget(rust),
        name=name or function.__name__,
        backend=backend,
        limits=limits,
        examples=tuple(options.get("examples", ())),
        methods=tuple(m.upper() for m in options.get("methods", ("GET",))),
        compare=options.get("compare"),
        shadow_rate=shadow_rate,
        strategy=options.get("strategy"),
    )


class HotRoutes:
    """An ordered collection of hot route declarations, by name."""

    def __init__(self) -> None:
        self._routes: dict[str, HotRoute] = {}

    def hot(
        self,
        rule: str,
        *,
        rust: str | Callable[..., Any],
        **options: Unpack[HotOptions],
    ) -> Callable[[F], F]:
        """Declare the decorated view as the Python side of a hot route.

        Args:
            rule: the URL rule, with Flask converters (``/sum_of_primes/<int:n>``).
            rust: the Rust implementation, a callable or a ``"module:attr"`` string
                imported on first use; it is called with the same keyword arguments.

        Options (all optional, keyword-only):
            name: route name (default: the function's name); endpoints are
                ``rustpath.<name>``, ``rustpath.python_<name>``, ``rustpath.rust_<name>``.
            backend: ``"rust"``, ``"python"`` or ``"shadow"`` for the plain rule,
                overriding ``RUSTPATH_BACKEND``.
            limits: upper bounds per side and argument, e.g.
                ``{"python": {"n": 10**6}, "rust": {"n": 10**10}}``; above them the
                route answers 422.
            examples: sample arguments: links on index pages, inputs for ``check``.
            methods: HTTP methods the three URLs accept.
            compare: ``compare(python_result, rust_result) -> bool`` for shadow mode,
                compare and check (default ``==``), e.g. a float tolerance.
            shadow_rate: fraction of shadow-mode requests compared, overriding
                ``RUSTPATH_SHADOW_RATE``.
            strategy: a hypothesis strategy of keyword-argument dicts for ``check``
                and :func:`flask_rustpath.testing.assert_parity`.

        The function is returned unchanged: it stays callable as plain Python.
        """

        def decorator(function: F) -> F:
            self.add(make_hot_route(function, rule, rust=rust, **options))
            return function

        return decorator

    def add(self, route: HotRoute) -> None:
        if route.name in self._routes:
            raise ValueError(f"a hot route named {route.name!r} is already declared")
        self._routes[route.name] = route

    def __iter__(self) -> Iterator[HotRoute]:
        return iter(list(self._routes.values()))

    def __len__(self) -> int:
        return len(self._routes)
