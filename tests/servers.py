"""Real servers for a test (gunicorn, Granian), through the same launcher the benchmarks
use, and the HTTP helpers the tests of both share."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

from bench import launch as serving
from bench.launch import free_port

from . import support

ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "HOT",
    "ROOT",
    "Front",
    "assert_hot_urls_answer",
    "free_port",
    "front",
    "get",
    "granian",
    "gunicorn",
    "request",
]


def get(url: str, timeout: float = 30) -> tuple[int, Message, bytes]:
    """GET ``url``: status, headers and body, also for HTTP error statuses.

    The headers are the response's own message: names match in any case, as in HTTP
    (Granian sends them in lower case), and a missing one is ``None``.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def request(base: str, path: str, **kwargs: Any) -> tuple[int, Message, bytes]:
    """Send ``urllib.request.Request(base + path, **kwargs)`` without following redirects:
    status, headers (any case, as for :func:`get`) and body, also for error statuses."""
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(urllib.request.Request(base + path, **kwargs), timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@contextlib.contextmanager
def gunicorn(
    *args: str, env: dict[str, str] | None = None, ready_path: str = "/healthz"
) -> Iterator[str]:
    """Run ``gunicorn -c python:flask_rustpath.serving.gunicorn_conf *args``; yield its base
    URL."""
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "gunicorn.log"
        with serving.gunicorn(env or {}, log, args=args, cwd=ROOT, ready_path=ready_path) as base:
            yield base


class Front:
    """A running ``flask rustpath serve``: its base URL, process and log."""

    def __init__(self, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base = base
        self.process = process
        self.log = log

    def gunicorn_pids(self) -> list[int]:
        """gunicorn's master and its workers (the children of the serve process)."""
        masters = _children(self.process.pid)
        return [pid for master in masters for pid in (master, *_children(master))]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except OSError:
        return []


@contextlib.contextmanager
def front(
    *args: str,
    app: str = "flask_rustpath.demo:create_app()",
    workers: int = 2,
    threads: int = 4,
    env: dict[str, str] | None = None,
    ready_path: str = "/healthz",
) -> Iterator[Front]:
    """Run ``flask --app APP rustpath serve`` on a free loopback port until the block
    ends, through the same launcher the benchmark uses."""
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "front.log"
        with serving.front(
            env or {},
            log,
            app=app,
            workers=workers,
            threads=threads,
            args=args,
            cwd=ROOT,
            ready_path=ready_path,
        ) as running:
            yield Front(running.base, running.process, log)


@contextlib.contextmanager
def granian(
    *args: str,
    app: str = "flask_rustpath.demo:create_app()",
    workers: int = 2,
    env: dict[str, str] | None = None,
    ready_path: str = "/healthz",
    log: Path | None = None,
) -> Iterator[str]:
    """Run ``granian --interface wsgi --workers N *args APP``; yield its base URL.

    Without granian installed the test skips, and fails under CI. ``log`` keeps the
    server's output there (default: a temporary file).
    """
    if importlib.util.find_spec("granian") is None:
        support.missing("granian is not installed (pip install granian)")
    with tempfile.TemporaryDirectory() as scratch:
        log = log or Path(scratch) / "granian.log"
        with serving.granian(
            env or {}, log, app=app, workers=workers, args=args, cwd=ROOT, ready_path=ready_path
        ) as base:
            yield base


#: Each server's hot URLs answer these, always as JSON: (status, body or None).
HOT = {
    "/rust/sum_of_primes/100": (200, {"result": 1060}),
    "/python/sum_of_primes/100": (200, {"result": 1060}),
    "/sum_of_primes/100": (200, {"result": 1060}),
    "/rustpath/sum_of_primes/100": (200, {"result": 1060}),
    "/rust/sum_of_primes/x": (404, None),
    "/python/sum_of_primes/2000000": (422, None),
}


def assert_hot_urls_answer(base: str) -> None:
    for path, (status, body) in HOT.items():
        got_status, headers, got_body = get(base + path)
        assert got_status == status, (path, got_body)
        assert headers["Content-Type"] == "application/json", path
        if body is not None:
            assert json.loads(got_body) == body, path


BLOG_ALICE = {"Authorization": "Bearer alice-token"}
BLOG_SIDES = {"": "rust", "/python": "python", "/rust": "rust"}


def assert_blog_serves(
    base: str, log: Path, check_headers: Callable[[Message], None] = lambda headers: None
) -> None:
    """The blog example (tests/apps/blog.py) behind a real server: its login decorator,
    blueprint hook, own 404 page and JSON POST on every variant of a paired view, and
    its planted shadow mismatch found off the request and logged in ``log``.
    ``check_headers`` also sees every successful answer's headers."""
    from flask_rustpath.kernels import sum_of_primes_sieve
    from tests.apps import blog

    for prefix, side in BLOG_SIDES.items():
        # The app's login decorator still runs before the kernel, on every URL.
        status, headers, _ = request(base, f"{prefix}/blog/stats/1")
        assert (status, headers["Location"]) == (302, "/auth/login"), prefix
        status, _, _ = request(base, f"{prefix}/blog/stats/2", headers=BLOG_ALICE)
        assert status == 403, prefix  # bob's post
        status, headers, body = request(base, f"{prefix}/blog/stats/1", headers=BLOG_ALICE)
        assert status == 200, (prefix, body)
        check_headers(headers)
        assert headers["X-RustPath-Backend"] == side, prefix
        assert headers[blog.BLUEPRINT_HOOK_HEADER] == "ran", prefix  # blueprint hooks
        assert json.loads(body) == {"post": 1, "prime_sum": sum_of_primes_sieve(26_000)}
        status, _, body = request(base, f"{prefix}/blog/stats/99", headers=BLOG_ALICE)
        assert (status, body) == (404, b"<h1>The blog has no such page</h1>"), prefix
        status, _, body = request(
            base,
            f"{prefix}/blog/score",
            data=b'{"n": 100}',
            headers={**BLOG_ALICE, "Content-Type": "application/json"},
            method="POST",
        )
        assert (status, json.loads(body)) == (201, {"user": "alice", "score": 1060}), prefix
    assert request(base, "/auth/login")[::2] == (200, b"log in here")
    # Production shadow mode (no RUSTPATH_SHADOW_RAISE): the process pool reports it.
    status, _, body = request(base, f"/blog/shadowed/{blog.PLANTED}", headers=BLOG_ALICE)
    assert status == 200, body
    deadline = time.monotonic() + 60
    while "shadow mismatch on kernel 'planted'" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, serving.log_tail(log)
        time.sleep(0.2)
