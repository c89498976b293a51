"""The benchmark's servers: a :class:`ServerSpec` served by :mod:`flask_rustpath.serving`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from flask_rustpath import serving
from flask_rustpath.serving import ServerError, fetch

from .plan import ServerSpec

REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["REPO_ROOT", "ServerError", "fetch", "gunicorn", "server_env"]


def server_env(spec: ServerSpec) -> dict[str, str]:
    """The shipped config's documented knobs for ``spec``.

    Every thread may run a kernel: the default admission bounds (one Python call per
    worker) protect a server from its clients, and would turn a throughput benchmark
    into a count of 503s.
    """
    slots = json.dumps({"python": spec.threads, "rust": spec.threads})
    env = {
        "WEB_CONCURRENCY": str(spec.workers),
        "GUNICORN_THREADS": str(spec.threads),
        "RUSTPATH_CONCURRENCY": slots,
        **spec.env,
    }
    if spec.app is not None:
        env["GUNICORN_APP"] = spec.app
    return env


@contextlib.contextmanager
def gunicorn(spec: ServerSpec, log_path: Path, cwd: Path = REPO_ROOT) -> Iterator[str]:
    """Serve ``spec`` until the block exits; yield the base URL once it answers HTTP."""
    with serving.gunicorn(server_env(spec), log_path, cwd=cwd, ready_path=spec.ready_path) as base:
        yield base
