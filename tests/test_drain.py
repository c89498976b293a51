"""Draining on SIGTERM, in both ways the image serves: through the Rust front
(``flask rustpath serve --drain-delay``) and with gunicorn alone
(``GUNICORN_DRAIN_DELAY``).

On real sockets: once the server has the signal, the health URL answers 503
``draining`` at once, every other request is still answered during the delay, a request
that was in flight when the signal came is answered in full, and the server then exits
0 on its own. A second SIGTERM ends the delay early.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.launch import Running, free_port, serve_process
from flask_rustpath.serving.launch import GUNICORN_COMMAND

from .servers import ROOT, get

pytestmark = pytest.mark.slow

# Long enough for the checks below on a busy machine; the servers exit on their own
# after it, which the tests wait for with a bound.
DRAIN_S = 6
# Python trial division: a second or two on the Python side, so it is in flight while
# the signal arrives.
SLOW = "/python/sum_of_primes/200000"
SLOW_ANSWER = {"result": 1709600813}


@contextlib.contextmanager
def front(drain_s: float) -> Iterator[tuple[Running, Path]]:
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "front.log"
        port = free_port()
        command = [
            *(sys.executable, "-m", "flask", "--app", "flask_rustpath.demo:create_app()"),
            *("rustpath", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
            *("--threads", "4", "--drain-delay", f"{drain_s:g}"),
        ]
        with serve_process(
            "front", command, {}, log, port=port, cwd=ROOT, ready_path="/healthz"
        ) as running:
            yield running, log


@contextlib.contextmanager
def gunicorn(drain_s: float) -> Iterator[tuple[Running, Path]]:
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "gunicorn.log"
        port = free_port()
        env = {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
            "GUNICORN_DRAIN_DELAY": f"{drain_s:g}",
        }
        with serve_process(
            "gunicorn", GUNICORN_COMMAND, env, log, port=port, cwd=ROOT, ready_path="/healthz"
        ) as running:
            yield running, log


SERVERS: dict[str, Callable[[float], contextlib.AbstractContextManager[tuple[Running, Path]]]]
SERVERS = {"front": front, "gunicorn": gunicorn}


def in_flight(pool: ThreadPoolExecutor, url: str) -> Future[tuple[int, bytes]]:
    """Start a GET of ``url`` and return once the server has it (a moment later)."""
    started = threading.Event()

    def fetch() -> tuple[int, bytes]:
        started.set()
        status, _, body = get(url, timeout=60)
        return status, body

    future = pool.submit(fetch)
    started.wait(10)
    time.sleep(0.3)  # the request is written and read by now; no assertion rests on it
    return future


def draining_health(base: str) -> tuple[int, bytes]:
    """The health URL's answer once the signal has been handled: a signal is delivered
    asynchronously, so a check sent a moment after ``kill`` may still come first. It
    is asked a few times within a second, far less than the drain delay."""
    for _ in range(20):
        status, _, body = get(base + "/healthz", timeout=10)
        if status != 200:
            break
        time.sleep(0.05)
    return status, body


@pytest.mark.parametrize("server", list(SERVERS))
def test_sigterm_drains_then_stops(server: str) -> None:
    with SERVERS[server](DRAIN_S) as (running, log), ThreadPoolExecutor(2) as pool:
        base = running.base
        assert get(base + "/healthz")[0] == 200
        slow = in_flight(pool, base + SLOW)
        running.process.send_signal(signal.SIGTERM)
        status, body = draining_health(base)
        assert status == 503, body
        assert json.loads(body)["status"] == "draining", body
        # The rest is still served, natively and through gunicorn.
        status, headers, body = get(base + "/hello", timeout=10)
        assert (status, body) == (200, b"Hello, World!")
        if server == "front":  # a balancer opens a new connection for its next request
            assert headers["connection"] == "close", dict(headers)
        status, _, body = get(base + "/rust/sum_of_primes/100", timeout=10)
        assert (status, json.loads(body)) == (200, {"result": 1060})
        # All of that came while the server was still running, within the delay.
        assert running.process.poll() is None, log.read_text()
        status, body = slow.result(timeout=60)
        assert (status, json.loads(body)) == (200, SLOW_ANSWER)
        assert running.process.wait(timeout=DRAIN_S + 30) == 0, log.read_text()
        text = log.read_text()
    assert ("draining:" if server == "front" else "Draining:") in text, text
    assert "Shutting down: Master" in text, text
    assert "Traceback" not in text, text


@pytest.mark.parametrize("server", list(SERVERS))
def test_a_second_sigterm_ends_the_drain(server: str) -> None:
    # A delay far past the bound below: only the second signal can end it in time.
    with SERVERS[server](600) as (running, log):
        running.process.send_signal(signal.SIGTERM)
        assert draining_health(running.base)[0] == 503
        running.process.send_signal(signal.SIGTERM)
        try:
            assert running.process.wait(timeout=60) == 0, log.read_text()
        except subprocess.TimeoutExpired:
            pytest.fail(f"still draining after a second SIGTERM:\n{log.read_text()}")


def test_without_a_delay_the_front_stops_at_once() -> None:
    """The default (no ``--drain-delay``) is the stop as before: no draining phase."""
    with SERVERS["front"](0) as (running, log):
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=60) == 0
        text = log.read_text()
    assert "draining" not in text and "stopping:" in text, text
