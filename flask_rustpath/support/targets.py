"""Locating a hot route's Rust implementation, lazily.

A target is given as a callable or as a ``"module:attr"`` string. Strings are
imported on first use, so an app whose native module is missing or broken still
starts; the import outcome (success or the reason for failure) is cached for the
life of the process.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from collections.abc import Callable
from typing import Any

from .forksafe import fork_safe_lock

log = logging.getLogger("flask_rustpath")


class TargetUnavailable(Exception):
    """The Rust implementation could not be imported; ``reason`` says why."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"Rust implementation {spec!r} is unavailable: {reason}")
        self.spec = spec
        self.reason = reason


class RustTarget:
    """Where a hot route's Rust implementation lives, imported on first use."""

    def __init__(self, target: str | Callable[..., Any]) -> None:
        self._lock = fork_safe_lock(self)
        # The implementation once imported: read without the lock on every call.
        self.function: Callable[..., Any] | None = None
        # Whether it takes a ``timeout`` keyword (seconds), to stop at a deadline.
        self.takes_timeout = False
        # Only the reason is kept: re-raising one cached exception would grow its
        # traceback, and keep every request's frames alive, on each raise.
        self._failure: str | None = None
        # The module a "module:attr" target imports (None for a callable given directly).
        self.module: str | None = None
        if callable(target):
            self.spec = f"{target.__module__}:{getattr(target, '__qualname__', target)}"
            self._set(target)
        elif isinstance(target, str):
            module, sep, attr = target.partition(":")
            if not (sep and module and attr):
                raise ValueError(
                    f"rust target must look like 'package.module:function', got {target!r}"
                )
            self.spec = target
            self.module = module
        else:
            raise TypeError(
                f"rust target must be a callable or a 'module:attr' string, got {target!r}"
            )

    def __repr__(self) -> str:
        return f"RustTarget({self.spec!r})"

    def resolve(self) -> Callable[..., Any]:
        """The implementation, imported on first call; raises :class:`TargetUnavailable`."""
        function = self.function
        if function is not None:
            return function
        with self._lock:
            if self.function is None and self._failure is None:
                self._import()
            function, failure = self.function, self._failure
        if function is None:
            raise TargetUnavailable(self.spec, failure or "not imported")
        return function

    @property
    def available(self) -> bool:
        """Whether the implementation imports (attempting the import if not yet tried)."""
        try:
            self.resolve()
        except TargetUnavailable:
            return False
        return True

    def _import(self) -> None:
        module_name, _, attr_path = self.spec.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
            for attr in attr_path.split("."):
                found = getattr(found, attr)
        except Exception as exc:  # any import-time failure must leave the app serving
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        except BaseException as exc:  # a Rust panic while the module initialises, too
            if not is_rust_panic(exc):
                raise
            self._fail(f"Rust panic while importing: {exc}")
            return
        if not callable(found):
            self._fail(f"{attr_path!r} in {module_name!r} is not callable")
            return
        self._set(found)

    def _set(self, function: Callable[..., Any]) -> None:
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # no signature to read: pass no timeout
            parameters = {}  # type: ignore[assignment]
        self.takes_timeout = "timeout" in parameters
        self.function = function

    def _fail(self, reason: str) -> None:
        self._failure = reason
        # The reason may carry file paths: it goes to the log, never to a client.
        log.warning(
            "[pid %d] %s; its kernels fall back to Python.",
            os.getpid(),
            TargetUnavailable(self.spec, reason),
        )


def is_rust_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is PyO3's ``PanicException``, from any PyO3 extension.

    Each PyO3 extension has its own ``PanicException`` class, and it derives from
    ``BaseException`` so that ordinary ``except Exception`` does not swallow it. It is
    recognised by its name and module, which PyO3 keeps stable.
    """
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"
