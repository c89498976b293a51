"""The benchmark's servers: a :class:`ServerSpec` served by :mod:`flask_rustpath.serving`.

``spec.kind`` picks the server from :data:`KINDS`. A kind is a launcher (a context
manager that serves a spec on loopback and yields its base URL), the command the report
names, and a check of whether it can run here. Adding one is adding an entry there.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from . import launch as serving
from .launch import ServerError, fetch
from .plan import ServerSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
# The demo plus the NumPy sieve (bench/app.py), unless a spec names its own app.
BENCH_APP = "bench.app:create_app()"

__all__ = ["KINDS", "REPO_ROOT", "ServerError", "ServerKind", "fetch", "serve", "server_env"]


def server_env(spec: ServerSpec) -> dict[str, str]:
    """The documented knobs for ``spec``: the shipped gunicorn config's. The app runs on
    the extension's defaults, admission included: a benchmark that needed to raise them
    would hide a default that refuses load."""
    env = {
        "WEB_CONCURRENCY": str(spec.workers),
        "GUNICORN_THREADS": str(spec.threads),
        **spec.env,
    }
    env["GUNICORN_APP"] = spec.app or BENCH_APP
    return env


Launcher = Callable[[ServerSpec, Path, Path], AbstractContextManager[str]]


@dataclass(frozen=True)
class ServerKind:
    """How to serve a spec of one kind."""

    launch: Launcher  # (spec, log path, cwd) -> context manager yielding the base URL
    command: Callable[[ServerSpec], str]  # its command line (bar the port), for the report
    missing: Callable[[], str | None]  # why it cannot run here, or None


def _gunicorn(spec: ServerSpec, log_path: Path, cwd: Path) -> AbstractContextManager[str]:
    return serving.gunicorn(server_env(spec), log_path, cwd=cwd, ready_path=spec.ready_path)


def _gunicorn_command(spec: ServerSpec) -> str:
    return "python -m gunicorn -c python:flask_rustpath.serving.gunicorn_conf"


def _granian_args(spec: ServerSpec) -> tuple[str, ...]:
    """``spec.threads`` is Granian's blocking (Python) threads per worker, as gunicorn's
    gthread threads are."""
    return ("--blocking-threads", str(spec.threads))


def _granian(spec: ServerSpec, log_path: Path, cwd: Path) -> AbstractContextManager[str]:
    return serving.granian(
        server_env(spec),
        log_path,
        app=spec.app or BENCH_APP,
        workers=spec.workers,
        args=_granian_args(spec),
        cwd=cwd,
        ready_path=spec.ready_path,
    )


def _granian_command(spec: ServerSpec) -> str:
    return " ".join(
        [
            "python -m granian --interface wsgi --host 127.0.0.1 --port P",
            f"--workers {spec.workers}",
            *_granian_args(spec),
            *serving.granian_target(spec.app or BENCH_APP),
        ]
    )


def _module_missing(module: str) -> Callable[[], str | None]:
    def missing() -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install {module})"
        return None

    return missing


KINDS: dict[str, ServerKind] = {
    "gunicorn": ServerKind(_gunicorn, _gunicorn_command, _module_missing("gunicorn")),
    "granian": ServerKind(_granian, _granian_command, _module_missing("granian")),
}


def kind_of(spec: ServerSpec) -> ServerKind:
    try:
        return KINDS[spec.kind]
    except KeyError:
        raise ValueError(
            f"server {spec.name!r} has kind {spec.kind!r}; known kinds: {', '.join(KINDS)}"
        ) from None


@contextlib.contextmanager
def serve(spec: ServerSpec, log_path: Path, cwd: Path = REPO_ROOT) -> Iterator[str]:
    """Serve ``spec`` until the block exits; yield the base URL once it answers HTTP."""
    with kind_of(spec).launch(spec, log_path, cwd) as base:
        yield base
