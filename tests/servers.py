"""Real gunicorn for a test, through the same launcher the benchmarks use."""

from __future__ import annotations

import contextlib
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from flask_rustpath import serving
from flask_rustpath.serving import free_port

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "free_port", "get", "gunicorn"]


def get(url: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``: status, headers and body, also for HTTP error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@contextlib.contextmanager
def gunicorn(
    *args: str, env: dict[str, str] | None = None, ready_path: str = "/healthz"
) -> Iterator[str]:
    """Run ``gunicorn -c python:flask_rustpath.gunicorn_conf *args``; yield its base URL."""
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "gunicorn.log"
        with serving.gunicorn(env or {}, log, args=args, cwd=ROOT, ready_path=ready_path) as base:
            yield base
