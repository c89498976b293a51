"""Shadow mode at the kernel: Rust answers; for a sample of calls the Python reference
runs too, off the request path, with the same plain arguments, and the results are
compared.

The response never waits for, or changes because of, the shadow: a full queue, a
slow or failing reference, a failing ``compare=`` hook or a metrics error are
counted, never raised. By default the reference runs in a small process pool (the
kernel's arguments are plain values, so they pickle), so shadow traffic never holds
the serving process's GIL; a reference that cannot be imported by name (defined in
``__main__`` or inside a function) runs on a background thread instead.

Mismatches are logged at a bounded rate, with both results, and appended to the capped
file ``RUSTPATH_SHADOW_RECORD`` when it is set (:mod:`.mismatches`), for ``flask
rustpath check --from-shadow`` to replay. ``RUSTPATH_SHADOW_RAISE`` compares inline
and raises :class:`ShadowMismatch`, so a test suite fails loudly.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import multiprocessing.util
import os
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ..support.executor import BoundedExecutor
from ..support.forksafe import fork_safe_lock
from ..support.logs import LimitedLog
from .calling import check_limits, results_match
from .config import AppSettings, KernelSettings
from .errors import LimitExceeded
from .mismatches import MismatchRecord
from .spec import KernelSpec

log = logging.getLogger("flask_rustpath")

# What a comparison's outcome is counted as.
Observe = Callable[[str, str], None]


class ShadowMismatch(AssertionError):
    """Python and Rust disagreed (raised only with ``RUSTPATH_SHADOW_RAISE``)."""


def run_reference(
    module: str, qualname: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """In a pool process: import the kernel by name and run its Python reference."""
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    reference = getattr(found, "python", found)  # a Kernel, or the plain function
    return reference(*args, **kwargs)


def importable(function: Callable[..., Any]) -> bool:
    """Whether a fresh process can find ``function`` by its module and qualified name."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    return bool(module) and module != "__main__" and "<locals>" not in qualname


def _shut_down_before_exit(pool: ProcessPoolExecutor) -> None:
    """Let ``pool``'s processes end when the process that started them exits.

    A server whose workers are :mod:`multiprocessing` children (Granian) ends each one
    through multiprocessing's exit function, which joins every child process first and
    only then runs the thread hooks that shut the pool down: the worker would wait for
    its pool forever. A multiprocessing finalizer runs before that join; it must also
    run before the pool's own queues close theirs (priority 10), or the pool's stop
    messages are never sent. Pending comparisons are dropped; one in progress
    finishes, as at any other exit. A forked child inherits the finalizer but not the
    pool's threads: it leaves the pool alone.
    """
    owner = os.getpid()

    def shut_down() -> None:
        if os.getpid() == owner:
            pool.shutdown(wait=True, cancel_futures=True)

    multiprocessing.util.Finalize(pool, shut_down, exitpriority=100)


class ShadowRunner:
    """Samples, queues and compares the shadow calls of one app, in each process."""

    def __init__(self, settings: AppSettings, observe: Observe, logs: LimitedLog) -> None:
        self.settings = settings
        self._observe = observe
        self._logs = logs
        self._lock = fork_safe_lock(self)
        self._pid: int | None = None
        self._processes: ProcessPoolExecutor | None = None
        self._pending = 0
        self._threads = BoundedExecutor(settings.shadow_workers, settings.shadow_queue)
        self._record_lock = fork_safe_lock(self, "_record_lock")
        self.record = (
            None
            if settings.shadow_record is None
            else MismatchRecord(
                Path(settings.shadow_record),
                settings.shadow_record_bytes,
                settings.shadow_record_chars,
            )
        )

    def offer(
        self,
        kernel: KernelSpec,
        settings: KernelSettings,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        rust_result: Any,
    ) -> None:
        """Maybe compare the reference with ``rust_result`` for this call (sampled, bounded)."""
        try:
            rate = settings.shadow_rate
            if rate == 0 or (rate < 1 and random.random() >= rate):
                return
            limits = settings.limits.get("python")
            if limits:
                try:
                    check_limits(kernel, "python", kernel.bind(args, kwargs), limits)
                except LimitExceeded:
                    self._observe(kernel.name, "skipped")  # the reference would take too long
                    return
            if self.settings.shadow_raise:
                python_result = kernel.python(*args, **kwargs)
                self._judge(kernel, args, kwargs, python_result, rust_result, raise_mismatch=True)
                return
            if self.settings.shadow_pool == "process" and importable(kernel.python):
                self._submit_process(kernel, args, kwargs, rust_result)
            else:
                self._submit_thread(kernel, args, kwargs, rust_result)
        except ShadowMismatch:
            raise
        except Exception:
            self._observe(kernel.name, "error")
            self._logs.warning(
                f"shadow-error:{kernel.name}",
                "shadow call of kernel %r failed to start",
                kernel.name,
            )

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until every queued shadow call has been compared; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = self._pending
            if pending == 0 and self._threads.join(max(0.0, deadline - time.monotonic())):
                return True
            time.sleep(0.005)
        return False

    def _submit_process(
        self, kernel: KernelSpec, args: tuple[Any, ...], kwargs: dict[str, Any], rust_result: Any
    ) -> None:
        settings = self.settings
        with self._lock:
            pid = os.getpid()
            if self._processes is None or self._pid != pid:
                # A pool inherited over fork is the parent's: start this process's own,
                # with spawn, so nothing a forked worker holds is copied into it.
                self._processes = ProcessPoolExecutor(
                    settings.shadow_workers, mp_context=multiprocessing.get_context("spawn")
                )
                _shut_down_before_exit(self._processes)
                self._pid, self._pending = pid, 0
            if self._pending >= settings.shadow_queue + settings.shadow_workers:
                full = True
            else:
                full = False
                self._pending += 1
            pool = self._processes
        if full:
            self._observe(kernel.name, "dropped")
            return
        submitted = time.monotonic()
        try:
            future = pool.submit(
                run_reference, kernel.python.__module__, kernel.python.__qualname__, args, kwargs
            )
        except Exception:
            with self._lock:
                self._pending -= 1
            raise

        def done(future: Future[Any]) -> None:
            try:
                if time.monotonic() - submitted > settings.shadow_timeout:
                    self._observe(kernel.name, "timeout")
                elif future.exception() is not None:
                    self._reference_failed(kernel, future.exception())
                else:
                    self._judge(kernel, args, kwargs, future.result(), rust_result)
            except Exception:
                log.exception("shadow comparison of kernel %r failed", kernel.name)
            finally:
                with self._lock:
                    self._pending -= 1

        future.add_done_callback(done)

    def _submit_thread(
        self, kernel: KernelSpec, args: tuple[Any, ...], kwargs: dict[str, Any], rust_result: Any
    ) -> None:
        timeout = self.settings.shadow_timeout

        def job(waited: float) -> None:
            if waited > timeout:
                self._observe(kernel.name, "timeout")
                return
            try:
                python_result = kernel.python(*args, **kwargs)
            except Exception as exc:
                self._reference_failed(kernel, exc)
                return
            self._judge(kernel, args, kwargs, python_result, rust_result)

        if not self._threads.submit(job):
            self._observe(kernel.name, "dropped")

    def _reference_failed(self, kernel: KernelSpec, exc: BaseException | None) -> None:
        self._observe(kernel.name, "error")
        self._logs.warning(
            f"shadow-error:{kernel.name}",
            "shadow call of kernel %r: the Python reference raised %s",
            kernel.name,
            type(exc).__name__,
        )

    def _judge(
        self,
        kernel: KernelSpec,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        python_result: Any,
        rust_result: Any,
        *,
        raise_mismatch: bool = False,
    ) -> None:
        try:
            same = results_match(kernel, python_result, rust_result)
        except Exception:
            self._observe(kernel.name, "error")
            self._logs.warning(
                f"shadow-error:{kernel.name}", "compare hook of kernel %r raised", kernel.name
            )
            return
        if same:
            self._observe(kernel.name, "match")
            return
        self._observe(kernel.name, "mismatch")
        inputs = _describe_inputs(kernel, args, kwargs)
        self._logs.warning(
            f"shadow-mismatch:{kernel.name}",
            "shadow mismatch on kernel %r for %s: python=%.200r rust=%.200r",
            kernel.name,
            inputs,
            python_result,
            rust_result,
        )
        self._record(kernel, args, kwargs, python_result, rust_result)
        if raise_mismatch:
            raise ShadowMismatch(
                f"shadow mismatch on kernel {kernel.name!r} for {inputs}: "
                f"python={python_result!r} rust={rust_result!r}"
            )

    def _record(
        self,
        kernel: KernelSpec,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        python_result: Any,
        rust_result: Any,
    ) -> None:
        """Append the mismatch to the record file, if there is one; never raises."""
        if self.record is None:
            return
        try:
            arguments = kernel.bind(args, kwargs)
        except TypeError:  # the call itself did not fit the signature: nothing to replay
            return
        with self._record_lock:  # one writer per process; flock orders the processes
            problem = self.record.append(kernel.name, arguments, python_result, rust_result)
        if problem is not None:
            self._logs.warning(f"shadow-record:{kernel.name}", "shadow record: %s", problem)


def _describe_inputs(kernel: KernelSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    try:
        text = repr(kernel.bind(args, kwargs))
    except TypeError:
        text = repr((args, dict(kwargs)))
    return text if len(text) <= 300 else text[:300] + "…"
