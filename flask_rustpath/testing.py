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
import ctypes
import importlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flask import Flask, current_app, has_app_context

from .core.calling import check_limits, results_match
from .core.errors import LimitExceeded
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
    "assert_native_parity",
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


def assert_native_parity(kernel: KernelSpec, *, max_examples: int = 100) -> int:
    """Assert that the native entry point of ``kernel``'s Rust side, the door through
    which ``flask rustpath serve``'s front calls it (JSON arguments, no Python), answers
    as the Python reference does: the reference's result as JSON, or bad input (the
    front's 400) where the reference raises ``ValueError``.

    The inputs are those of :func:`assert_parity`: the kernel's ``examples``, then
    ``max_examples`` from its ``strategy=`` or its annotations, within its Python-side
    limits. Returns how many inputs were checked; raises :class:`ParityError` on the
    first disagreement (the shrunk input for generated ones).
    """
    entry = _native_entry(kernel)
    python_limits = kernel.limits.get("python", {})
    checked = 0

    def check(kwargs: Mapping[str, Any]) -> None:
        nonlocal checked
        checked += 1
        try:
            expected: tuple[str, Any] = ("ok", json.loads(json.dumps(kernel.python(**kwargs))))
        except (ValueError, OverflowError):
            expected = ("bad input", None)
        except Exception as exc:
            expected = ("failed", type(exc).__name__)
        status, text = entry(json.dumps(kwargs).encode())
        agree = {
            "ok": status == 0 and _json_matches(kernel, expected[1], text),
            "bad input": status == 1,
            "failed": status not in (0, 1),
        }[expected[0]]
        if not agree:
            answer = (
                ["ok", "bad input", "deadline", "failed"][status] if 0 <= status < 4 else status
            )
            raise ParityError(
                f"{kernel.name}: python and the native entry point disagree on "
                f"{dict(kwargs)!r}: python {expected[0]} {expected[1]!r}, native {answer} {text!r}"
            )

    for example in kernel.examples:
        check(example)
    if max_examples > 0:
        from hypothesis import HealthCheck, given, reject, settings

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(input_strategy(kernel))
        def generated(kwargs: dict[str, Any]) -> None:
            try:
                check_limits(kernel, "python", kwargs, python_limits)
            except LimitExceeded:
                reject()
            check(kwargs)

        generated()
    return checked


def _json_matches(kernel: KernelSpec, expected: Any, text: str) -> bool:
    try:
        return results_match(kernel, expected, json.loads(text))
    except Exception:  # not JSON, or a compare= hook that fails: a disagreement
        return False


class _Buffer(ctypes.Structure):
    _fields_ = [
        ("ptr", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
        ("cap", ctypes.c_size_t),
    ]


class _NativeEntry(ctypes.Structure):
    """Native ABI version 1's entry (``rustpath::abi`` in the kernel crate)."""

    _fields_ = [
        ("abi_version", ctypes.c_uint32),
        (
            "call",
            ctypes.CFUNCTYPE(
                ctypes.c_int32,
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_double,
                ctypes.POINTER(ctypes.c_uint8),
                ctypes.POINTER(_Buffer),
            ),
        ),
        ("release", ctypes.CFUNCTYPE(None, _Buffer)),
    ]


def _native_entry(kernel: KernelSpec) -> Callable[[bytes], tuple[int, str]]:
    """A call of the native entry point of ``kernel``'s Rust side (``module:function``):
    the arguments as JSON, the status and text it answers (ctypes releases the GIL)."""
    from .serving.front import CAPSULE_NAME  # the front's modules, only when called

    module_name, _, function = kernel.rust.spec.partition(":")
    module = importlib.import_module(module_name)
    capsule = getattr(module, "__rustpath_native__", {}).get(function)
    if capsule is None:
        raise ParityError(f"{kernel.name}: {module_name} exports no native entry for {function}")
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    if api.PyCapsule_GetName(capsule) != CAPSULE_NAME.encode():
        raise ParityError(f"{kernel.name}: its native entry is not a {CAPSULE_NAME} capsule")
    entry = _NativeEntry.from_address(api.PyCapsule_GetPointer(capsule, CAPSULE_NAME.encode()))

    def call(args: bytes) -> tuple[int, str]:
        cancelled = ctypes.c_uint8(0)
        out = _Buffer()
        status = entry.call(args, len(args), 0.0, ctypes.byref(cancelled), ctypes.byref(out))
        text = ctypes.string_at(out.ptr, out.len).decode("utf-8", "replace") if out.ptr else ""
        entry.release(out)
        return int(status), text

    return call


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
