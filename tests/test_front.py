"""The Rust front (``flask rustpath serve``) with real processes on loopback sockets.

What the issue asks to be proved: no Python in the loop for native routes (gunicorn's
processes stopped, the front still answers), the same contract as the Flask side,
the buffering proxy (slowloris, SIGTERM under keep-alive load, malformed HTTP), shadow
mode at the front, and metrics and health of both processes.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_rustpath import RustPath, _native
from flask_rustpath.core.admission import refusal_message
from flask_rustpath.demo import create_app
from flask_rustpath.serving import hey
from flask_rustpath.serving.front import (
    MAX_CONNECTIONS,
    RESERVED_DESCRIPTORS,
    FrontOptions,
    connection_bound,
    front_config,
    json_kind,
    native_plan,
    raise_descriptor_limit,
    segments,
)

from .servers import ROOT, Front, free_port, front, get
from .support import missing

SUM_BELOW_100000 = 454_396_537


# -- fast: the plan the front is given ---------------------------------------------


def test_the_demos_hot_routes_are_native_with_their_rules_split() -> None:
    plan = native_plan(create_app())
    rules = {
        tuple(part.get("text", part.get("name")) for part in r["segments"]) for r in plan.routes
    }
    assert ("/sum_of_primes/", "n") in rules
    assert ("/rustpath/sum_of_primes/", "n") in rules
    assert plan.proxied == {}
    assert set(plan.entries) == {"flask_rustpath._native:sum_of_primes"}
    builtin = next(r for r in plan.routes if r["segments"][0]["text"] == "/sum_of_primes/")
    assert [(limit["argument"], limit["limit_json"]) for limit in builtin["limits"]] == [
        ("n", "200000000000000")
    ]
    assert builtin["limits"][0]["answer"]["status"] == 422
    assert builtin["plain_native"] is True


def test_rules_the_front_cannot_match_exactly_stay_with_gunicorn() -> None:
    assert segments("/a/<int:n>/b") == [
        {"kind": "literal", "text": "/a/"},
        {"kind": "int", "name": "n"},
        {"kind": "literal", "text": "/b"},
    ]
    assert segments("/a/<name>") == [
        {"kind": "literal", "text": "/a/"},
        {"kind": "string", "name": "name"},
    ]
    for rule in ("/a/<int(signed=True):n>", "/a/<float:x>", "/a/<path:p>", "/a/<uuid:u>"):
        assert segments(rule) is None, rule


def test_a_route_with_parameters_beyond_the_url_reads_them_from_a_json_body() -> None:
    """The front checks a JSON body's parameters against their annotations; a request
    without one (a query string) goes to gunicorn per request, not per route."""
    from tests.apps.front_app import create_app as front_app

    plan = native_plan(front_app())
    assert plan.proxied == {}
    routes = {route["kernel"]: route for route in plan.routes}
    assert routes["shadowed"]["shadow_rate"] == 1.0
    assert routes["shadowed"]["parameters"] == []
    assert routes["scaled"]["methods"] == ["GET"]
    assert routes["scaled"]["parameters"] == [
        {"name": "scale", "kind": {"type": "int", "nullable": False}}
    ]


def test_the_front_checks_the_annotations_flask_checks_and_no_other() -> None:
    assert json_kind(list[str]) == {
        "type": "list",
        "nullable": False,
        "item": {"type": "str", "nullable": False},
    }
    assert json_kind(dict[str, float | None] | None) == {
        "type": "dict",
        "nullable": True,
        "item": {"type": "float", "nullable": True},
    }
    assert json_kind(Any) == {"type": "any", "nullable": True}
    assert json_kind(list) == {"type": "list", "nullable": False, "item": json_kind(Any)}
    for unchecked in (bytes, tuple[int, int], list[bytes], int | str, set[int]):
        assert json_kind(unchecked) is None, unchecked


def test_a_route_whose_body_flask_reads_its_own_way_stays_with_gunicorn() -> None:
    from tests.apps.front_app import create_app as front_app

    app = front_app()
    app.config["MAX_CONTENT_LENGTH"] = 1024
    assert "MAX_CONTENT_LENGTH" in native_plan(app).proxied["scaled"]
    assert "shadowed" not in native_plan(app).proxied

    rustpath = RustPath()

    @rustpath.hot("/blob", methods=["POST"], rust=abs)
    def blob(data: bytes) -> int:
        return len(data)

    other = Flask(__name__)
    rustpath.init_app(other)
    assert "the front does not check the type of data" in native_plan(other).proxied["blob"]


def test_the_front_refuses_a_bad_configuration_or_entry() -> None:
    with pytest.raises(ValueError, match="invalid front configuration"):
        _native.serve_front("{}", {})
    app = create_app()
    config = json.dumps(
        front_config(app, native_plan(app), Path("unused.sock"), FrontOptions(), concurrency=8)
    )
    with pytest.raises(ValueError, match="not a capsule"):
        _native.serve_front(config, {"x": object()})  # type: ignore[dict-item]
    # A capsule of another name (here CPython's datetime C API) is not an entry point.
    with pytest.raises(ValueError, match="name"):
        _native.serve_front(config, {"x": datetime.datetime_CAPI})  # type: ignore[attr-defined]


@pytest.fixture
def open_files_soft_limit() -> Iterator[Callable[[int], None]]:
    """Lower this process's soft limit on open files for a test; restored after it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def lower(limit: int) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    yield lower
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_connection_bound_leaves_descriptors_for_gunicorn_and_the_rest(
    open_files_soft_limit: Callable[[int], None],
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 8 * 1024:
        pytest.skip(f"the hard open-files limit here is {hard}")
    open_files_soft_limit(1024)
    # Half of what is left beyond the reserve: each proxied client holds a gunicorn socket.
    assert connection_bound() == (1024 - RESERVED_DESCRIPTORS) // 2
    app = create_app()
    config = front_config(app, native_plan(app), Path("u.sock"), FrontOptions(), concurrency=8)
    assert config["max_connections"] == connection_bound()
    raise_descriptor_limit()  # as `flask rustpath serve` does before it starts
    assert connection_bound() == MAX_CONNECTIONS
    open_files_soft_limit(100)
    assert connection_bound() == 16  # a floor, however low the limit


# -- real processes ------------------------------------------------------------------

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> Iterator[Front]:
    with front(workers=1) as running:
        yield running


@slow
def test_native_routes_answer_with_gunicorn_stopped(demo: Front) -> None:
    """No Python in the loop: with every gunicorn process stopped, the native route
    still answers exactly, while a proxied URL cannot."""
    pids = demo.gunicorn_pids()
    assert len(pids) == 2, pids  # master and one worker
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(20):
            status, headers, body = get(demo.base + "/rust/sum_of_primes/100000", timeout=5)
            assert status == 200, body
            assert json.loads(body) == {"result": SUM_BELOW_100000}
            assert headers["x-rustpath-backend"] == "rust"
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            get(demo.base + "/hello", timeout=1.5)
        status, _, body = get(demo.base + "/healthz", timeout=10)
        assert status == 503
        assert json.loads(body)["status"] == "unavailable"
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert get(demo.base + "/hello", timeout=10)[2] == b"Hello, World!"
    status, _, body = get(demo.base + "/rust/sum_of_primes/100000")
    assert (status, json.loads(body)) == (200, {"result": SUM_BELOW_100000})


CONTRACT_URLS = [
    "/rust/sum_of_primes/100000",
    "/sum_of_primes/100000",
    "/rustpath/sum_of_primes/1000",
    "/rust/sum_of_primes/0",
    "/rust/sum_of_primes/2",
    "/rust/sum_of_primes/1000000000000",
    "/rust/sum_of_primes/200000000000000",
    "/rust/sum_of_primes/200000000000001",
    "/rust/sum_of_primes/99999999999999999999999999999999999999999999",
    "/rust/sum_of_primes/007",
    "/rust/sum_of_primes/abc",
    "/rust/sum_of_primes/",
    "/rust/sum_of_primes/7/",
    "/python/sum_of_primes/1000",
    "/python/sum_of_primes/1000001",
    "/sieve/sum_of_primes/1000",
]


@slow
def test_native_answers_match_the_flask_side_byte_for_byte(demo: Front) -> None:
    client = create_app().test_client()
    native = 0
    for url in CONTRACT_URLS:
        status, headers, body = get(demo.base + url)
        expected = client.get(url)
        assert status == expected.status_code, url
        assert body == expected.data, url
        for name in ("x-rustpath-backend", "content-type"):
            assert headers.get(name) == expected.headers.get(name), (url, name)
        timing = headers.get("server-timing", "")
        assert (
            timing.split(";dur=")[0] == expected.headers.get("Server-Timing", "").split(";dur=")[0]
        )
        native += "server" not in {name.lower() for name in headers}
    assert native >= 9  # the native URLs really were answered by the front


@slow
def test_a_deadline_is_a_504_like_flasks() -> None:
    env = {"RUSTPATH_DEADLINE": "0.01"}
    url = "/rust/sum_of_primes/200000000000000"
    with front(workers=1, env=env) as running:
        status, headers, body = get(running.base + url)
    app = create_app({"RUSTPATH_DEADLINE": 0.01})
    expected = app.test_client().get(url)
    assert (status, body) == (504, expected.data)
    assert json.loads(body)["error"] == "deadline_exceeded"
    assert "server" not in {name.lower() for name in headers}


@slow
def test_slowloris_does_not_slow_health(demo: Front) -> None:
    """32 half-sent requests, dribbling a byte at a time, hold no gunicorn thread."""
    port = int(demo.base.rsplit(":", 1)[1])
    stop = threading.Event()
    sockets = []
    for _ in range(32):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        sockets.append(s)

    def dribble() -> None:
        while not stop.wait(0.5):
            for s in sockets:
                with contextlib.suppress(OSError):
                    s.sendall(b"X")

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    try:
        latencies = []
        for _ in range(100):
            started = time.perf_counter()
            status, _, body = get(demo.base + "/healthz", timeout=5)
            latencies.append(time.perf_counter() - started)
            assert status == 200, body
        latencies.sort()
        assert latencies[98] < 0.1, latencies[-5:]
    finally:
        stop.set()
        dribbler.join()
        for s in sockets:
            s.close()


@slow
def test_a_client_that_never_finishes_its_head_gets_a_json_408() -> None:
    with front("--header-timeout", "0.5", workers=1) as running:
        port = int(running.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
            answer = _read_all(s)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(body)["error"] == "request_timeout"


def _read_all(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


@slow
def test_sigterm_under_keep_alive_load_resets_nothing() -> None:
    """hey keeps connections alive on a native and a proxied URL; SIGTERM mid-run.
    Every request the front read is answered in full: no reset, no EOF, no 5xx. The
    only errors allowed are connections refused once it stopped listening."""
    if hey.hey_path() is None:
        missing("hey is not installed")
    with front(workers=2) as running:
        with ThreadPoolExecutor(2) as pool:
            runs = [
                pool.submit(hey.run, running.base + path, concurrency=16, duration_s=4)
                for path in ("/rust/sum_of_primes/100000", "/hello")
            ]
            time.sleep(1.5)
            running.process.send_signal(signal.SIGTERM)
            summaries = [run.result(timeout=60) for run in runs]
        assert running.process.wait(timeout=60) == 0
        log = running.log_text()
    for summary in summaries:
        assert summary.ok_responses > 0
        assert set(summary.status_codes) == {200}, summary.status_codes
        unexpected = {m: n for m, n in summary.errors.items() if "connection refused" not in m}
        assert unexpected == {}, unexpected
    assert "stopping:" in log
    assert "Shutting down: Master" in log  # gunicorn stopped after the front drained


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        try:
            return _read_all(s)
        except ConnectionResetError:
            return b""


_TOKENS = st.sampled_from(
    [b"GET", b"POST", b"HEAD", b"G\x00T", b"", b"GET GET", b"\xff\xfe", b"PUT", b"get"]
)
_TARGETS = st.sampled_from(
    [
        b"/hello",
        b"/rust/sum_of_primes/100",
        b"/sum_of_primes/5",
        b"/python/sum_of_primes/10",
        b"*",
        b"http://x/hello",
        b"/\x7f",
        b"/%zz",
        b"/" + b"a" * 20000,
        b"",
        b"/hello?x=\xff",
    ]
)
_VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.x", b"", b"http/1.1"])
_HEADERS = st.lists(
    st.sampled_from(
        [
            b"Host: x",
            b"Content-Length: 5",
            b"Content-Length: -1",
            b"Content-Length: 1, 2",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: gzip",
            b"Bad Header",
            b": empty",
            b"X: \x00",
            b"X: " + b"v" * 20000,
            b"Connection: keep-alive",
            b"Expect: 100-continue",
            b"Expect: 200-ok",
            b"X-Forwarded-Ssl: on",
            b"X-Forwarded-Protocol: ssl",
            b"Transfer-Encoding: gzip, chunked",
        ]
    ),
    max_size=4,
)
_BODIES = st.sampled_from([b"", b"hello", b"0\r\n\r\n", b"zz\r\n", b"5\r\nab"])


@slow
def test_malformed_http_gets_json_errors_and_never_a_5xx(demo: Front) -> None:
    port = int(demo.base.rsplit(":", 1)[1])

    @settings(
        max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(_TOKENS, _TARGETS, _VERSIONS, _HEADERS, _BODIES)
    # Cases the fuzz once found, kept so every run tries them.
    @example(b"GET", b"/hello", b"HTTP/1.1", [b"Expect: 100-continue", b"Expect: 200-ok"], b"")
    @example(b"GET", b"/hello", b"HTTP/1.1", [b"Transfer-Encoding: gzip, chunked"], b"")
    @example(b"get", b"/hello", b"HTTP/1.1", [b"Host: x", b"Host: x"], b"hello")
    @example(b"GET", b"/hello?x=\xff", b"HTTP/1.1", [b"X-Forwarded-Ssl: on"], b"")
    def check(
        method: bytes, target: bytes, version: bytes, headers: list[bytes], body: bytes
    ) -> None:
        request = b" ".join([method, target, version]) + b"\r\n"
        request += b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body
        answer = _raw(port, request)
        if not answer:
            return  # the client closed its side before a whole request: nothing to answer
        while answer.startswith(b"HTTP/1.1 100 "):  # an interim answer, then the real one
            answer = answer.partition(b"\r\n\r\n")[2]
        head, _, rest = answer.partition(b"\r\n\r\n")
        status = int(head[9:12])
        assert status < 500, answer[:500]
        from_gunicorn = b"\r\nserver: gunicorn" in head.lower()
        if status >= 400 and not from_gunicorn and method != b"HEAD":
            assert b"content-type: application/json" in head.lower(), answer[:500]
            assert json.loads(rest.split(b"\n", 1)[0])["error"]

    check()
    status, _, _ = get(demo.base + "/healthz")
    assert status == 200


@slow
def test_shadow_at_the_front_counts_a_planted_mismatch() -> None:
    app = "tests.apps.front_app:create_app()"
    with front(workers=1, app=app) as running:
        for n in (100, 1000, 2000):
            status, headers, _ = get(running.base + f"/shadowed/{n}")
            assert status == 200
            assert "server" not in {name.lower() for name in headers}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, _, metrics = get(running.base + "/rustpath/metrics")
            text = metrics.decode()
            if 'rustpath_front_shadow_total{kernel="shadowed",outcome="match"} 2' in text:
                break
            time.sleep(0.2)
        assert 'rustpath_front_shadow_total{kernel="shadowed",outcome="mismatch"} 1' in text, text
        assert 'rustpath_front_shadow_total{kernel="shadowed",outcome="match"} 2' in text, text
        # The app's own counters are there too: the /python requests shadowing made.
        assert re.search(r'rustpath_requests_total\{[^}]*side="python"', text), text
        assert get(running.base + "/scaled/10?scale=2")[2] == b'{"result":34}\n'
        log = running.log_text()
    assert "shadow mismatch" in log and "/python/shadowed/1000" in log


@slow
def test_health_and_metrics_report_both_processes(demo: Front) -> None:
    get(demo.base + "/python/sum_of_primes/1000")
    get(demo.base + "/rust/sum_of_primes/1000")
    status, _, body = get(demo.base + "/healthz")
    health = json.loads(body)
    assert status == 200
    assert health["status"] == "ok"
    assert health["front"]["status"] == "ok"
    assert health["front"]["pid"] == demo.process.pid
    assert health["app"] == {"status": "ok"}
    text = ""
    deadline = time.monotonic() + 10
    while 'kernel="sum_of_primes"' not in text and time.monotonic() < deadline:
        text = get(demo.base + "/rustpath/metrics")[2].decode()
        time.sleep(0.3)
    assert 'rustpath_requests_total{kernel="sum_of_primes",outcome="ok",side="python"}' in text
    assert 'rustpath_front_requests_total{handler="sum_of_primes",status="200"}' in text
    assert "rustpath_front_request_seconds_bucket" in text


@slow
def test_the_access_log_has_one_line_per_request_native_or_proxied(demo: Front) -> None:
    """The front logs both kinds with the client's address; gunicorn, behind it, logs
    neither (it would log the proxied one a second time, from the front's socket)."""
    agent = f"access-log-probe-{os.getpid()}-{time.monotonic_ns()}"
    for path in ("/rust/sum_of_primes/1000", "/hello", "/no/such/page?q=%22"):
        request = urllib.request.Request(demo.base + path, headers={"User-Agent": agent})
        with contextlib.suppress(urllib.error.HTTPError), urllib.request.urlopen(request):
            pass
    lines: list[str] = []
    deadline = time.monotonic() + 5
    while len(lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)  # the front writes its buffer every 100 ms
        lines = [line for line in demo.log_text().splitlines() if agent in line]
    assert len(lines) == 3, lines
    native, proxied, missing_page = lines
    assert native.startswith("127.0.0.1 - - [")
    assert '"GET /rust/sum_of_primes/1000 HTTP/1.1" 200 ' in native
    assert '"GET /hello HTTP/1.1" 200 13 "-" "' + agent + '" ' in proxied
    assert '"GET /no/such/page?q=%22 HTTP/1.1" 404 ' in missing_page


@slow
def test_a_stop_during_start_up_stops_gunicorn_too() -> None:
    """SIGTERM while the front waits for gunicorn's workers: the serve process exits at
    once (it would be ignored as PID 1 in a container) and takes gunicorn with it."""
    command = [sys.executable, "-m", "flask", "--app", "tests.apps.slow_start:create_app()"]
    command += ["rustpath", "serve", "--bind", f"127.0.0.1:{free_port()}", "--workers", "1"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        gunicorn = _stop_while_starting(process)
    for pid in gunicorn:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text(), pid


def _stop_while_starting(process: subprocess.Popen[str]) -> list[int]:
    """SIGTERM once gunicorn boots its worker; gunicorn's pids."""
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if "Booting worker" in line:
                break
        else:
            pytest.fail("gunicorn never started")
        gunicorn = Front("", process, Path("unused")).gunicorn_pids()
        assert gunicorn
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return gunicorn


def test_routes_python_would_wrap_or_decide_stay_with_flask() -> None:
    from tests.apps.front_guarded import create_app as guarded
    from tests.apps.front_guarded import create_hooked_app

    plan = native_plan(guarded())
    assert [route["kernel"] for route in plan.routes] == ["plain"]
    assert "'/overlapped/42' may match the same URLs" in plan.proxied["overlapped"]
    hooked = native_plan(create_hooked_app())
    assert hooked.routes == []
    assert "before_request hook" in hooked.proxied["plain"]

    app = guarded()

    @app.errorhandler(422)
    def limits(error: Exception) -> tuple[str, int]:
        return "too big", 422

    assert "error handler" in native_plan(app).proxied["plain"]
    wrapped = guarded()
    wrapped.wsgi_app = ProxyFix(wrapped.wsgi_app)  # type: ignore[method-assign]
    assert "middleware" in native_plan(wrapped).proxied["plain"]


@slow
def test_a_hook_still_guards_a_hot_route_behind_the_front() -> None:
    app = "tests.apps.front_guarded:create_hooked_app()"
    with front(workers=1, app=app) as running:
        for path in ("/plain/100", "/rust/plain/100"):
            status, _, body = get(running.base + path)
            assert status == 401, body
            status, _, body = get_with(running.base + path, {"X-Key": "secret"})
            assert (status, json.loads(body)) == (200, {"result": 1060})
        fixed = get_with(running.base + "/overlapped/42", {"X-Key": "secret"})
        assert fixed[2] == b"the fixed rule wins in Flask"


def get_with(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@slow
def test_a_call_waits_a_bounded_time_for_a_slot_then_503() -> None:
    """With the only Rust slot held by a long call, another call is refused with 503
    and Retry-After while the first still runs: it waits RUSTPATH_ADMISSION_WAIT, not
    the deadline, and says so in the Python side's own words."""
    env = {
        "RUSTPATH_CONCURRENCY": json.dumps({"python": 1, "rust": 1}),
        "RUSTPATH_ADMISSION_WAIT": "0.25",
        "RUSTPATH_LIMITS": json.dumps({"sum_of_primes": {"rust": {"n": 10**18}}}),
        "RUSTPATH_DEADLINE": "5",
    }
    long_url = "/rust/sum_of_primes/100000000000000000"  # 10^17: stopped at the deadline
    with front(workers=1, env=env) as running, ThreadPoolExecutor(1) as pool:
        first = pool.submit(get, running.base + long_url)
        refused = None
        for _ in range(50):
            sent = time.monotonic()
            status, headers, body = get(running.base + "/rust/sum_of_primes/1000")
            if status == 503:
                refused_after = time.monotonic() - sent
                refused = (headers, json.loads(body))
                break
        still_running = not first.done()
        assert first.result(timeout=60)[0] == 504
    assert refused is not None
    assert refused[1]["error"] == "overloaded" and refused[0]["retry-after"] == "1"
    assert refused[1]["message"] == refusal_message("rust", "'sum_of_primes'", 0.25, "the front")
    assert refused_after >= 0.25  # it waited the configured time for a slot first
    assert still_running


@slow
def test_the_front_stops_when_gunicorn_dies() -> None:
    with front(workers=1) as running:
        master = running.gunicorn_pids()[0]
        os.kill(master, signal.SIGKILL)
        assert running.process.wait(timeout=60) != 0
        assert "gunicorn exited" in running.log_text()


@slow
def test_health_is_ok_for_an_app_without_its_own_health_url() -> None:
    with front(workers=1, app="tests.apps.front_guarded:create_app()") as running:
        status, _, body = get(running.base + "/healthz")
        assert status == 200 and json.loads(body)["app"] == {"status": "ok"}
    with front("--health-path", "/health-nowhere", workers=1, ready_path="/plain/1") as r:
        status, _, body = get(r.base + "/health-nowhere")
        health = json.loads(body)
    assert status == 200
    assert health["status"] == "ok" and health["app"] == {"http_status": 404}


@slow
def test_metrics_parse_as_prometheus_text(demo: Front) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    get(demo.base + "/rust/sum_of_primes/10")
    text = get(demo.base + "/rustpath/metrics")[2].decode()
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert families["rustpath_front_requests"] == "counter"
    assert families["rustpath_front_request_seconds"] == "histogram"


def test_serve_hands_gunicorn_a_module_for_an_app_given_as_a_file() -> None:
    from flask.cli import ScriptInfo

    from flask_rustpath.cli import _gunicorn_app

    def spelt(path: str) -> str | None:
        return _gunicorn_app(ScriptInfo(app_import_path=path))

    assert spelt("app1.py:create_app()") == "app1:create_app()"
    assert spelt("src/app1.py:app") == "src.app1:app"
    assert spelt("flask_rustpath.demo:create_app()") == "flask_rustpath.demo:create_app()"
    assert spelt("flask_rustpath.demo") == "flask_rustpath.demo:create_app()"
