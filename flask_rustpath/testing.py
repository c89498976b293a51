"""Parity checks for pytest: :func:`assert_parity` and the ``rustpath_parity`` fixture.

The checks themselves (generated inputs, comparison of both sides) are framework-free,
in :mod:`flask_rustpath.core.parity`; this module finds the app and the kernel. The
``rustpath_parity`` pytest fixture binds :func:`assert_parity` to your ``app`` fixture::

    def test_my_kernel(rustpath_parity):
        rustpath_parity("text_stats", max_examples=200)

Needs hypothesis (``pip install flask-rustpath[testing]``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flask import Flask, current_app, has_app_context

from .core.kernel import Kernel
from .core.parity import (
    DEFAULT_MAX,
    MAX_SIZE,
    NoStrategy,
    ParityError,
    check_input,
    check_parity,
    input_strategy,
    strategy_for,
)
from .core.spec import KernelSpec
from .core.texts import TRICKY_CHARACTERS, corpus_sentences, text_strategy
from .extension import RustPath
from .hot import HotRoute
from .state import RustPathState, get_state

__all__ = [
    "DEFAULT_MAX",
    "MAX_SIZE",
    "TRICKY_CHARACTERS",
    "NoStrategy",
    "ParityError",
    "assert_parity",
    "check_input",
    "corpus_sentences",
    "input_strategy",
    "resolve_kernel",
    "strategy_for",
    "text_strategy",
    "with_rust",
]


def assert_parity(
    kernel: Kernel | HotRoute | str,
    *,
    app: Flask | None = None,
    inputs: Iterable[Mapping[str, Any]] = (),
    max_examples: int = 100,
    limits: bool = True,
) -> int:
    """Assert both sides agree on ``inputs``, the kernel's ``examples`` and generated inputs.

    ``kernel`` is a :class:`~flask_rustpath.Kernel`, a JSON shorthand route, or a
    kernel's name on ``app``. ``app`` defaults to the current app; with neither, a bare
    app is used (only the kernel's own limits apply).

    Agreement means equal results (or the kernel's ``compare=`` hook saying so), or
    both sides refusing the input with the same error. With ``limits``, inputs above the
    Python side's limits are skipped. Returns how many inputs were checked; raises
    :class:`ParityError` on the first disagreement (the shrunk input for generated
    ones) and :class:`NoStrategy` when inputs are wanted but cannot be generated.
    """
    with _app_context(app) as active:
        state = get_state(active)
        found = resolve_kernel(state, kernel)
        return check_parity(state, found, inputs=inputs, max_examples=max_examples, limits=limits)


def with_rust(kernel: KernelSpec, rust: str | Callable[..., Any]) -> Kernel:
    """``kernel`` (its reference, name, limits, examples, ``compare=``, ``strategy=``
    and concurrency) with ``rust`` as its Rust side: a crate's function checked on the
    declared kernel's own inputs, whatever the app declares as its twin today.

    The crates ``flask rustpath new --kernel`` writes check their function this way.
    """
    return Kernel(
        kernel.python,
        rust=rust,
        name=kernel.name,
        limits=kernel.limits,
        examples=kernel.examples,
        compare=kernel.compare,
        strategy=kernel.strategy,
        concurrency=kernel.concurrency,
    )


def resolve_kernel(state: RustPathState, kernel: KernelSpec | HotRoute | str) -> KernelSpec:
    """A kernel given by object, shorthand route or name; ``KeyError`` naming the known ones."""
    if isinstance(kernel, HotRoute):
        return kernel.kernel
    if isinstance(kernel, KernelSpec):
        return kernel
    found = state.kernels.get(kernel)
    if found is None:
        known = ", ".join(sorted(state.kernels)) or "none"
        raise KeyError(f"no kernel named {kernel!r}; known: {known}")
    return found


@contextlib.contextmanager
def _app_context(app: Flask | None) -> Iterator[Flask]:
    if app is None and has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    if app is None:
        app = Flask("rustpath_parity")
        RustPath(app)
    with app.app_context():
        yield app


try:
    import pytest
except ImportError:  # the fixture is only for pytest users
    pass
else:

    @pytest.fixture
    def rustpath_parity(request: pytest.FixtureRequest) -> Callable[..., int]:
        """``rustpath_parity(kernel, **options)``: :func:`assert_parity` on the ``app`` fixture."""
        app = request.getfixturevalue("app")

        def check(kernel: Kernel | HotRoute | str, **options: Any) -> int:
            return assert_parity(kernel, app=app, **options)

        return check
