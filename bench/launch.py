"""Launchers for the servers the benchmark and the tests compare with gunicorn: Granian,
and the Rust front (``flask rustpath serve``) with gunicorn behind it. Each runs on a
free loopback port through :func:`flask_rustpath.serving.launch.serve_process`, for a
bounded time, and is always stopped.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from flask_rustpath.serving.launch import (
    START_TIMEOUT_S,
    Running,
    ServerError,
    fetch,
    free_port,
    gunicorn,
    log_tail,
    serve_process,
)

# The package's own launcher and helpers too, so a caller has one module for all three
# servers.
__all__ = [
    "START_TIMEOUT_S",
    "Running",
    "ServerError",
    "fetch",
    "free_port",
    "front",
    "granian",
    "granian_target",
    "gunicorn",
    "log_tail",
    "serve_process",
]


@contextlib.contextmanager
def granian(
    env: Mapping[str, str],
    log_path: Path,
    *,
    app: str = "flask_rustpath.demo:create_app()",
    workers: int = 2,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    ready_path: str = "/",
) -> Iterator[str]:
    """Serve ``app`` with Granian's WSGI interface until the block exits; yield the base
    URL once it answers HTTP at ``ready_path`` (any status).

    Runs ``python -m granian --interface wsgi --host 127.0.0.1 --port P --workers N *args
    APP``. ``app`` is spelled as for gunicorn: ``module:name`` for an app object, or
    ``module:factory()`` for a factory called without arguments (Granian's
    ``--factory module:factory``). ``env`` and ``cwd`` work as for :func:`gunicorn`.
    """
    port = free_port()
    command = [
        *(sys.executable, "-m", "granian", "--interface", "wsgi"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *args,
        *granian_target(app),
    ]
    with serve_process(
        "granian", command, env, log_path, port=port, cwd=cwd, ready_path=ready_path
    ) as running:
        yield running.base


@contextlib.contextmanager
def front(
    env: Mapping[str, str],
    log_path: Path,
    *,
    app: str = "flask_rustpath.demo:create_app()",
    workers: int = 2,
    threads: int = 4,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    ready_path: str = "/",
) -> Iterator[Running]:
    """Serve ``app`` with ``flask rustpath serve`` (the Rust front, gunicorn behind it)
    until the block exits; yield it once it answers HTTP at ``ready_path``: its base
    URL, and its process for a caller that signals it. ``env`` and ``cwd`` work as for
    :func:`gunicorn`."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "flask", "--app", app, "rustpath", "serve"),
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)),
        *args,
    ]
    with serve_process(
        "flask rustpath serve", command, env, log_path, port=port, cwd=cwd, ready_path=ready_path
    ) as running:
        yield running


def granian_target(app: str) -> list[str]:
    """Granian's arguments for a gunicorn-style app spec: ``["--factory", "m:f"]`` for
    ``"m:f()"``; Granian cannot pass arguments to a factory, so ``"m:f(1)"`` is refused."""
    if "(" not in app:
        return [app]
    target, _, call = app.partition("(")
    if call != ")":
        raise ValueError(f"Granian calls a factory without arguments; got {app!r}")
    return ["--factory", target]
