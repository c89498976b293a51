"""Capacity: a server sized for C concurrent requests answers C, and 4C, with no refusal.

Over real servers on loopback, each with its shipped defaults and 2 workers x 4
threads (C = 8): gunicorn, Granian, and the Rust front with gunicorn behind it. The
app is ``tests.apps.shop``, a real app's shape (Flask-Login on every page, CSRF forms,
SQLAlchemy, hooks, blueprints registered after ``init_app``), logged in with a real
session cookie. hey drives each row with a bounded number of requests at C and at 4C.

The property is that every response is a 200: no request refused (no 503 from
admission, no 5xx, no connection error) on a Rust JSON route, on a page whose view
calls a Python kernel of tens of milliseconds (``/python<rule>``), and on the plain
URL under the Python rollback (``RUSTPATH_BACKEND=python``) and in shadow mode.
Nothing here times a
request: above C the extra requests wait in the server's queue, however long that is
within hey's 30 s per request.

The shop's routes all have hooks, so the front proxies them; the front's own native
admission is tested on the demo's JSON route, which it answers with no Python.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import launch as serving
from flask_rustpath.kernels import sum_of_primes_sieve
from flask_rustpath.serving import hey
from tests import support
from tests.apps.shop import PASSWORD, REPORT_N

from .servers import ROOT

pytestmark = pytest.mark.slow

WORKERS, THREADS = 2, 4
CONCURRENCY = WORKERS * THREADS
APP = "tests.apps.shop:create_app()"
RUST_N = 10_000_000

#: (path, what the body must contain) per row; the rollback serves the plain URLs.
ROWS = {
    "default": [
        (f"/rust/reports/api/{RUST_N}", b'"total":3203324994356'),
        (f"/python/reports/primes/{REPORT_N}", b"<p id=total>%d</p>"),
    ],
    "rollback": [
        (f"/reports/primes/{REPORT_N}", b"<p id=total>%d</p>"),
        ("/reports/api/100000", b'"total":454396537'),
    ],
    "shadow": [
        (f"/reports/primes/{REPORT_N}", b"<p id=total>%d</p>"),
        (f"/reports/api/{RUST_N}", b'"total":3203324994356'),
    ],
}
BACKENDS = {
    "default": {},
    "rollback": {"RUSTPATH_BACKEND": "python"},
    # Every call also run in Python off the request path: the shadow queue drops what
    # it cannot take, and the request never waits for it.
    "shadow": {"RUSTPATH_BACKEND": "shadow", "RUSTPATH_SHADOW_RATE": "1.0"},
}


@contextlib.contextmanager
def _served(kind: str, env: dict[str, str], log: Path) -> Iterator[str]:
    from tests.apps.shop import create_app

    database = str(log.parent / "shop.sqlite")
    os.environ["SHOP_DATABASE"] = database  # seeded here, before the workers start
    try:
        create_app()
    finally:
        del os.environ["SHOP_DATABASE"]
    env = {
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        "SHOP_DATABASE": database,
        **env,
    }
    if kind == "gunicorn":
        with serving.gunicorn(
            {**env, "GUNICORN_APP": APP}, log, cwd=ROOT, ready_path="/healthz"
        ) as base:
            yield base
    elif kind == "granian":
        args = ("--blocking-threads", str(THREADS))
        with serving.granian(
            env, log, app=APP, workers=WORKERS, args=args, cwd=ROOT, ready_path="/healthz"
        ) as base:
            yield base
    else:
        with serving.front(
            env, log, app=APP, workers=WORKERS, threads=THREADS, cwd=ROOT, ready_path="/healthz"
        ) as running:
            yield running.base


def _log_in(base: str) -> str:
    """Log in through the real form (CSRF token and all); the session cookie's header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/auth/login", timeout=30) as response:
        form = response.read()
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token is not None, form
    fields = {"username": "alice", "password": PASSWORD, "csrf_token": token.group(1).decode()}
    data = urllib.parse.urlencode(fields).encode()
    with opener.open(base + "/auth/login", data=data, timeout=30) as response:
        assert "/reports/" in response.url, response.url  # redirected to a report page
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def _hey(url: str, *, concurrency: int, requests: int, cookie: str = "") -> hey.HeySummary:
    """``hey -n N -c C -t 30 -H Cookie:…``: bounded in count, in time per request, and
    as a process."""
    binary = hey.hey_path()
    if binary is None:
        support.missing("hey is not installed (apt-get install -y hey)")
    assert url.startswith("http://127.0.0.1:"), url
    command = [binary, "-n", str(requests), "-c", str(concurrency), "-t", "30"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command += ["-H", "Accept: text/html,*/*;q=0.8", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return hey.parse(done.stdout)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("kind", ["gunicorn", "granian", "front"])
def test_every_request_at_and_above_the_servers_concurrency_is_answered(
    kind: str, backend: str
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "server.log"
        with _served(kind, {**BACKENDS[backend]}, log) as base:
            cookie = _log_in(base)
            for path, expected in ROWS[backend]:
                if b"%d" in expected:
                    expected = expected % sum_of_primes_sieve(REPORT_N)
                request = urllib.request.Request(base + path, headers={"Cookie": cookie})
                with urllib.request.urlopen(request, timeout=30) as response:
                    body = response.read()
                    assert response.headers["X-Report-Hook"] == "ran", path
                assert expected in body, (path, body[:300])
                for concurrency in (CONCURRENCY, 4 * CONCURRENCY):
                    summary = _hey(
                        base + path,
                        concurrency=concurrency,
                        requests=4 * concurrency,
                        cookie=cookie,
                    )
                    seen = (kind, backend, path, concurrency, summary.status_codes)
                    assert summary.errors == {}, (*seen, summary.errors, serving.log_tail(log))
                    assert summary.status_codes == {200: 4 * concurrency}, seen


@pytest.mark.parametrize("wait", ["0", None])
def test_the_fronts_native_slots_hold_the_servers_concurrency(wait: str | None) -> None:
    """The demo's ``/rust/sum_of_primes/<n>`` is answered by the front itself (see
    ``test_front.py``'s native-route tests). With no
    wait for a slot at all (``RUSTPATH_ADMISSION_WAIT=0``), C concurrent clients are
    all served: the front has at least C slots. With the default wait, 4C are too."""
    env = {} if wait is None else {"RUSTPATH_ADMISSION_WAIT": wait}
    levels = (CONCURRENCY,) if wait == "0" else (CONCURRENCY, 4 * CONCURRENCY)
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "front.log"
        with serving.front(
            env,
            log,
            app="flask_rustpath.demo:create_app()",
            workers=WORKERS,
            threads=THREADS,
            cwd=ROOT,
            ready_path="/healthz",
        ) as running:
            url = f"{running.base}/rust/sum_of_primes/{RUST_N}"
            for concurrency in levels:
                summary = _hey(url, concurrency=concurrency, requests=8 * concurrency)
                seen = (wait, concurrency, summary.status_codes, summary.errors)
                assert summary.errors == {}, (*seen, serving.log_tail(log))
                assert summary.status_codes == {200: 8 * concurrency}, seen
