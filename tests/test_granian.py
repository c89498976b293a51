"""Real Granian (a Rust HTTP server) through its WSGI interface, real sockets on loopback.

The same apps as under gunicorn: the demo and a user's blog. Without granian installed
the server tests skip, and fail under CI.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path

import pytest

from bench import launch as serving

from .servers import assert_blog_serves, assert_hot_urls_answer, get, granian


def assert_served_by_granian(headers: Message) -> None:
    """Granian names itself, so no other server can stand in for it unnoticed."""
    assert headers.get("Server") == "granian", headers


def test_an_app_is_spelled_as_for_gunicorn() -> None:
    assert serving.granian_target("tests.apps.blog:create_app()") == [
        "--factory",
        "tests.apps.blog:create_app",
    ]
    assert serving.granian_target("tests.apps.preloaded:app") == ["tests.apps.preloaded:app"]
    with pytest.raises(ValueError, match="without arguments"):
        serving.granian_target("tests.apps.blog:create_app({'TESTING': True})")


@pytest.mark.slow
def test_granian_serves_the_demo_on_every_url() -> None:
    with granian() as base:
        status, headers, body = get(base + "/hello")
        assert (status, body) == (200, b"Hello, World!")
        assert_served_by_granian(headers)
        for path, backend, result in [
            ("/rust/sum_of_primes/100000", "rust", 454_396_537),
            ("/python/sum_of_primes/1000", "python", 76_127),
            ("/sum_of_primes/100000", "rust", 454_396_537),  # the plain rule
        ]:
            status, headers, body = get(base + path)
            assert status == 200, body
            assert body == json.dumps({"result": result}, separators=(",", ":")).encode() + b"\n"
            assert headers["X-RustPath-Backend"] == backend, path
            name, duration, desc = headers["Server-Timing"].split(";")
            assert (name, desc) == (backend, 'desc="sum_of_primes"'), path
            assert float(duration.removeprefix("dur=")) > 0, path
        # A hot rule's own 404 is JSON that names the rule, not the framework's HTML page.
        status, headers, body = get(base + "/rust/sum_of_primes/nope")
        assert status == 404
        assert headers["Content-Type"] == "application/json"
        error = json.loads(body)
        assert error["error"] == "invalid_argument"
        assert (error["route"], error["rule"]) == ("sum_of_primes", "/sum_of_primes/<int:n>")
        assert_hot_urls_answer(base)  # the same table gunicorn answers


@pytest.mark.slow
def test_the_blog_under_granian(tmp_path: Path) -> None:
    log = tmp_path / "granian.log"
    with granian(app="tests.apps.blog:create_app()", ready_path="/about", log=log) as base:
        assert_blog_serves(base, log, assert_served_by_granian)
    # Stopped gracefully, not killed: a worker that started the shadow process pool
    # used to wait for the pool forever when Granian asked it to stop.
    assert "Granian shutdown completed" in log.read_text(errors="replace"), serving.log_tail(log)


# -- a Rust call does not block the worker ------------------------------------------------

# One Rust thread, a deliberate cap of one Rust call with no wait, one worker: while the
# slow call runs, that worker's only slot is taken, so another Rust request it serves
# must be refused with 503 "overloaded". Seeing that refusal is seeing the worker run
# Python (Flask answering the probe) while the Rust call is in progress: no clock is read.
ONE_SLOT = {
    "RUSTPATH_THREADS": "1",
    "RUSTPATH_CONCURRENCY": '{"rust": 1}',
    "RUSTPATH_ADMISSION_WAIT": "0",
}
# The built-in route's sublinear method: ~1 s on one thread, room for many probes and
# well under the deadline.
SLOW_N = 20_000_000_000_000
SLOW_SUM = 6_640_510_710_493_148_698_166_596
SLOW = f"/rust/sum_of_primes/{SLOW_N}"
PROBE = "/rust/sum_of_primes/100"
ATTEMPTS = 10  # each ~1 s; in practice one or two
MAX_PROBES = 10_000


def assert_overloaded(headers: Message, body: bytes) -> None:
    assert json.loads(body)["error"] == "overloaded", body
    assert headers.get("Retry-After", "").isdigit(), headers


def refusals_during_slow_call(base: str) -> int | None:
    """Probe while one slow Rust request is in flight; count the probes refused because
    the slow call held the slot. ``None`` when the slow request was itself refused (a
    probe held the slot as it arrived): nothing was shown, try again. Otherwise the
    slow request must answer correctly."""
    refused = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(get, base + SLOW, 60)
        for _ in range(MAX_PROBES):
            if slow.done():
                break
            # One probe at a time: only the slow call can hold the slot it finds taken.
            status, headers, body = get(base + PROBE, timeout=60)
            if status == 503:
                assert_overloaded(headers, body)
                refused += 1
            else:
                assert (status, json.loads(body)) == (200, {"result": 1060}), body
        status, headers, body = slow.result(timeout=60)
    # The slot comes back once the slow call is done.
    assert get(base + PROBE)[0] == 200
    if status == 503:
        assert_overloaded(headers, body)
        return None
    assert (status, json.loads(body)) == (200, {"result": SLOW_SUM}), body
    return refused


@pytest.mark.slow
def test_a_rust_call_under_granian_leaves_its_worker_serving() -> None:
    with granian(workers=1, env=ONE_SLOT) as base:
        # A probe can only miss by being starved for the whole call, and the slow
        # request by arriving while a probe held the slot.
        for _ in range(ATTEMPTS):
            if refusals_during_slow_call(base):
                break
        else:
            pytest.fail("no request was answered while the Rust call was in progress")


@pytest.mark.slow
def test_the_probe_sees_nothing_when_the_worker_serves_one_request_at_a_time() -> None:
    # The negative control: with one blocking thread, Granian runs one WSGI call at a
    # time, so every probe waits for the slow call, none is ever refused, and nor is
    # the slow call.
    with granian("--blocking-threads", "1", workers=1, env=ONE_SLOT) as base:
        assert refusals_during_slow_call(base) == 0
