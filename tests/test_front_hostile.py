"""The front under hostile clients and operations (issue #24), over the real front and
real gunicorn on loopback: odd request targets, header sizes, clients that never read
a large response, a burst of connections, SIGHUP under keep-alive load, and a fuzz of
request heads checked against h11 on where each request ends.

Every load is bounded in count and in time; nothing asserts a ratio of times, only
that nothing is refused, lost or stalled beyond a generous bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import h11
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .servers import Front, front, get
from .support import missing

pytestmark = pytest.mark.slow

APP = "tests.apps.front_hostile:create_app()"


@pytest.fixture(scope="module")
def hostile() -> Iterator[Front]:
    with front(app=APP, workers=2, threads=4) as running:
        yield running


def _port(running: Front) -> int:
    return int(running.base.rsplit(":", 1)[1])


def _socket_path(running: Front) -> str:
    found = re.search(r"app on (\S+)", running.log_text())
    assert found, running.log_text()[-2000:]
    return found[1]


def _exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send ``data``, close the sending side, read until the front closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                answer += chunk
        return answer


def _status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def _front_json_error(answer: bytes, status: int) -> dict[str, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert int(head[9:12]) == status, answer[:300]
    assert b"content-type: application/json" in head.lower(), answer[:300]
    assert b"server: gunicorn" not in head.lower(), answer[:300]
    error: dict[str, str] = json.loads(body.split(b"\n", 1)[0])
    assert error["error"] and error["message"]
    return error


# -- request targets -----------------------------------------------------------------


def test_connect_and_the_authority_form_are_refused(hostile: Front) -> None:
    port = _port(hostile)
    connect = _exchange(port, b"CONNECT 127.0.0.1:18081 HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n\r\n")
    assert _front_json_error(connect, 405)["error"] == "method_not_allowed"
    for method in (b"GET", b"POST", b"OPTIONS"):
        answer = _exchange(port, method + b" evil.example:80 HTTP/1.1\r\nHost: x\r\n\r\n")
        _front_json_error(answer, 400)


def test_the_asterisk_form_is_only_for_options_and_reaches_the_app_as_is(
    hostile: Front,
) -> None:
    port = _port(hostile)
    status, body = _status_and_body(_exchange(port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 200
    echoed = json.loads(body)
    assert (echoed["method"], echoed["uri"]) == ("OPTIONS", "*")
    for method in (b"GET", b"HEAD", b"POST", b"DELETE"):
        answer = _exchange(port, method + b" * HTTP/1.1\r\nHost: x\r\n\r\n")
        assert int(answer[9:12]) == 400, answer[:300]
        if method != b"HEAD":
            _front_json_error(answer, 400)


def test_nothing_of_the_private_socket_reaches_the_app(hostile: Front) -> None:
    port = _port(hostile)
    path = _socket_path(hostile)
    hex_path = path.encode().hex()
    for request in (
        b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://example.com/echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /echo HTTP/1.1\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
    ):
        answer = _exchange(port, request).decode("latin-1")
        assert answer.startswith("HTTP/1.1 "), answer
        assert path not in answer and hex_path not in answer.lower(), answer
    status, body = _status_and_body(
        _exchange(port, b"GET http://example.com/echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    )
    assert status == 200
    assert json.loads(body)["uri"] == "/echo?a=1"


def test_the_listen_backlog_is_gunicorns(hostile: Front) -> None:
    """2048, as gunicorn's, or the kernel's cap (``net.core.somaxconn``) if lower."""
    if shutil.which("ss") is None:
        missing("ss (iproute2) is not installed")
    cap = int(Path("/proc/sys/net/core/somaxconn").read_text())
    listing = subprocess.run(
        ["ss", "-Hltn", f"sport = :{_port(hostile)}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # State, Recv-Q, Send-Q (the backlog of a listening socket), addresses.
    assert int(listing[2]) == min(2048, cap), listing


# -- header sizes: every refusal is the front's JSON ---------------------------------


@pytest.mark.parametrize("size", [100, 8 * 1024, 12 * 1024, 16 * 1024 - 200])
def test_a_header_the_front_takes_reaches_the_app(hostile: Front, size: int) -> None:
    value = b"v" * size
    answer = _exchange(
        _port(hostile), b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + value + b"\r\n\r\n"
    )
    status, body = _status_and_body(answer)
    assert status == 200, answer[:500]
    assert json.loads(body)["headers"]["X-Big"] == value.decode()


@pytest.mark.parametrize(
    "head",
    [
        b"X-Big: " + b"v" * (17 * 1024) + b"\r\n",
        b"".join(b"X-%d: v\r\n" % i for i in range(120)),
        b"X-Big: " + b"v" * (64 * 1024) + b"\r\n",
    ],
    ids=["one-17KiB-field", "120-fields", "64KiB-field"],
)
def test_a_head_the_front_refuses_gets_its_json(hostile: Front, head: bytes) -> None:
    answer = _exchange(_port(hostile), b"GET /echo HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
    assert int(answer[9:12]) in (400, 431), answer[:300]
    _front_json_error(answer, int(answer[9:12]))


def test_a_request_line_the_front_takes_reaches_the_app(hostile: Front) -> None:
    target = b"/echo?q=" + b"a" * 12_000
    answer = _exchange(_port(hostile), b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, body = _status_and_body(answer)
    assert status == 200, answer[:300]
    assert json.loads(body)["uri"] == target.decode()


# -- slow readers and bursts ---------------------------------------------------------


def test_clients_that_never_read_a_large_response_delay_no_one(hostile: Front) -> None:
    """8 clients (as many as gunicorn has threads) ask for 30 MB and never read it.
    gunicorn writes it to the front at its own pace and is free again: /hello and
    /healthz answer at once, and so does a ninth /big read in full."""
    port = _port(hostile)
    stuck = []
    try:
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            stuck.append(s)
        time.sleep(1.0)  # long enough for gunicorn to have written them all
        for _ in range(5):
            status, _, body = get(hostile.base + "/hello", timeout=10)
            assert (status, body) == (200, b"Hello from Flask\n")
            status, _, _ = get(hostile.base + "/healthz", timeout=10)
            assert status == 200
            # ... while every stuck client still has its response waiting, unread.
            assert all(s.recv(1, socket.MSG_PEEK) for s in stuck)
        status, _, body = get(hostile.base + "/big", timeout=60)
        assert status == 200 and len(body) == 30 * 1024 * 1024
        # A slow reader that reads at last gets its response whole.
        received = b""
        while chunk := stuck[0].recv(1 << 20):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        body = _dechunk(body)
        assert len(body) == 30 * 1024 * 1024 and body.count(b"x") == len(body)
    finally:
        for s in stuck:
            s.close()


def _dechunk(data: bytes) -> bytes:
    """The payload of a whole chunked body (no extensions, no trailers)."""
    out = bytearray()
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert data == b"\r\n", data[:100]
            return bytes(out)
        out += data[:size]
        assert data[size : size + 2] == b"\r\n"
        data = data[size + 2 :]


BURST = 1000
BURST_BOUND_S = 30.0


async def _one_get(port: int, results: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
        results.append(int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else -1)
    finally:
        writer.close()


def test_a_burst_of_connections_is_answered_in_full(hostile: Front) -> None:
    """1,000 connections each send one GET /hello at once: every one is answered
    200, none refused or reset, all within a generous bound."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < BURST + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(BURST + 1024, hard), hard))
    results: list[int] = []

    async def burst() -> None:
        tasks = [_one_get(_port(hostile), results) for _ in range(BURST)]
        outcomes = await asyncio.wait_for(
            asyncio.gather(*tasks, return_exceptions=True), BURST_BOUND_S
        )
        errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert errors == [], errors[:5]

    if shutil.which("ss") is None:
        missing("ss (iproute2) is not installed: the connections to gunicorn go uncounted")
    baseline = _unix_sockets(hostile.process.pid)
    most = [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            most[0] = max(most[0], _unix_sockets(hostile.process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        started = time.monotonic()
        asyncio.run(burst())
        took = time.monotonic() - started
    finally:
        sampling.set()
        sampler.join()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert results.count(200) == BURST, {s: results.count(s) for s in set(results)}
    print(f"burst of {BURST}: all answered in {took:.2f} s; unix sockets {baseline} -> {most[0]}")
    if baseline >= 0:
        # Connections to gunicorn: at most one per thread (2 workers x 4), plus what was
        # open before (the readiness probe's, the runtime's own socket pair).
        assert most[0] <= baseline + 2 * 4, (baseline, most[0])


def _unix_sockets(pid: int) -> int:
    """Unix stream sockets the process ``pid`` holds (ss, from iproute2)."""
    listing = subprocess.run(["ss", "-xpH"], capture_output=True, text=True, check=True)
    return sum(f"pid={pid}," in line for line in listing.stdout.splitlines())


# -- SIGHUP ------------------------------------------------------------------------


def _keep_alive_client(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    """Requests on one keep-alive connection until ``stop``; counts sent and answered.
    A connection the front closed before a request was sent is reopened (and that
    request is not counted as sent)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        while not stop.is_set():
            try:
                connection.request("GET", "/echo")
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            counts["sent"] += 1
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and json.loads(body)["path"] == "/echo":
                counts["answered"] += 1
            else:
                counts[f"status {response.status}"] = (
                    counts.get(f"status {response.status}", 0) + 1
                )
    except Exception as exc:
        counts[repr(exc)] = counts.get(repr(exc), 0) + 1
    finally:
        connection.close()


def _worker_pids(running: Front) -> set[int]:
    return set(running.gunicorn_pids()[1:])


def test_sighup_reloads_the_app_and_loses_no_request() -> None:
    """8 keep-alive clients; SIGHUP mid-run. The front keeps serving (same process,
    still listening), gunicorn starts new workers, and every request sent is answered
    200 by the app."""
    with front(app=APP, workers=2, threads=4) as running:
        port = _port(running)
        before = _worker_pids(running)
        stop = threading.Event()
        counts = [{"sent": 0, "answered": 0} for _ in range(8)]
        clients = [
            threading.Thread(target=_keep_alive_client, args=(port, stop, c)) for c in counts
        ]
        for client in clients:
            client.start()
        try:
            time.sleep(1.0)
            running.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                after = _worker_pids(running)
                if after and not after & before and len(after) == 2:
                    break
                time.sleep(0.2)
            time.sleep(3.0)  # the old workers' keep-alive linger, and then some
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=60)
        assert running.process.poll() is None, "the front kept running"
        assert after and not after & before, (before, after)
        for c in counts:
            assert c["sent"] > 0
            assert c == {"sent": c["sent"], "answered": c["sent"]}, counts
        status, _, _ = get(running.base + "/healthz")
        assert status == 200
        assert "reloading the app" in running.log_text()
        private = os.path.dirname(_socket_path(running))
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=60) == 0
    assert not os.path.exists(private), "the private directory is removed on the way out"


def _careful_client(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    """Requests on one keep-alive connection until ``stop`` or the front closes it;
    before each write it checks that the front has not closed the connection (so a
    request it sends, the front could read). Counts sent and answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        while not stop.is_set():
            s.setblocking(False)
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    return  # the front closed it between two requests
            except BlockingIOError:
                pass
            except OSError:
                return
            finally:
                s.setblocking(True)
            try:
                s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                return
            counts["sent"] += 1
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    counts["unanswered"] = counts.get("unanswered", 0) + 1
                    return
                answer += chunk
            if answer.startswith(b"HTTP/1.1 200 "):
                counts["answered"] += 1
            if b"connection: close" in answer.lower():
                return


def test_sigterm_answers_every_request_the_front_read() -> None:
    """8 careful keep-alive clients; SIGTERM mid-run; the front exits 0. A request is
    either answered, or its connection closed with no byte of answer: then it was
    sent as the front closed the connection, and the front never read it. The
    access log, a line per request the front read (499 for one it dropped
    unanswered), has no 499: every request the front read was answered."""
    with front(app=APP, workers=2, threads=4) as running:
        port = _port(running)
        stop = threading.Event()
        counts = [{"sent": 0, "answered": 0} for _ in range(8)]
        clients = [threading.Thread(target=_careful_client, args=(port, stop, c)) for c in counts]
        for client in clients:
            client.start()
        try:
            time.sleep(1.0)
            running.process.send_signal(signal.SIGTERM)
            assert running.process.wait(timeout=60) == 0
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=60)
        log = running.log_text()
    for c in counts:
        assert c["sent"] > 0
        # At most the last request of a connection goes unanswered, never an error.
        assert set(c) <= {"sent", "answered", "unanswered"}, counts
        assert c["answered"] + c.get("unanswered", 0) == c["sent"], counts
    assert '"GET /echo HTTP/1.1" 200' in log
    assert '"GET /echo HTTP/1.1" 499' not in log, "a request the front read went unanswered"


# -- where a request ends: the front against h11 -------------------------------------

CANARY = b"GET /echo?canary HTTP/1.1\r\nHost: c\r\n\r\n"
CANARY_REQUEST = (b"GET", b"/echo?canary")
# A request as the app echoes it (keys sorted): its method and target.
ECHO = re.compile(rb'"method":"([^"]*)","path":"[^"]*","pid":\d+,"uri":"([^"]*)"')


def responses(answer: bytes) -> list[tuple[int, bytes]]:
    """Each final response in ``answer`` (interim 1xx skipped): status and body, up to
    the first that cannot be split off by its Content-Length."""
    found: list[tuple[int, bytes]] = []
    while answer.startswith(b"HTTP/1.1 "):
        head, separator, rest = answer.partition(b"\r\n\r\n")
        if not separator:
            break
        status = int(head[9:12])
        if 100 <= status < 200:
            answer = rest
            continue
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        if length is None:
            found.append((status, rest))
            break
        size = int(length[1])
        found.append((status, rest[:size]))
        answer = rest[size:]
    return found


def origin_form(target: bytes) -> bytes:
    """The target as the front passes it on: an absolute form as its path and query."""
    found = re.fullmatch(rb"(?i)https?://[^/?#]*([^#]*)", target)
    if found is None:
        return target
    return found[1] or b"/"


def requests_seen(answer: bytes) -> list[tuple[bytes, bytes] | None]:
    """Per response, the request the app echoed (method, target), or ``None`` for an
    answer that is not the app's echo (the front's refusal, a 404)."""
    seen: list[tuple[bytes, bytes] | None] = []
    for _, body in responses(answer):
        echoed = ECHO.search(body)
        seen.append((echoed[1], echoed[2]) if echoed else None)
    return seen


_METHODS = st.sampled_from([b"GET", b"POST", b"PUT", b"OPTIONS", b"get", b"G T", b""])
_TARGETS = st.sampled_from([b"/echo", b"/hello", b"*", b"http://x/echo", b"x:80", b"/e cho"])
_VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.2", b"HTTP/2", b"HTTP/1.1 "])
_FIELDS = st.lists(
    st.sampled_from(
        [
            b"Content-Length: 0",
            b"Content-Length: 5",
            b"Content-Length: 5",
            b"Content-Length: +5",
            b"Content-Length: 5, 5",
            b"Content-Length: 05",
            b"Content-Length : 5",
            b"Content-Length:\t5",
            b"Content-Length: 5 ",
            b"Content-Length: 99999999999999999999",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: Chunked",
            b"Transfer-Encoding:  chunked",
            b"Transfer-Encoding: chunked, chunked",
            b"Transfer-Encoding: identity",
            b"Transfer-Encoding: x",
            b"Transfer-Encoding\x0b: chunked",
            b" Transfer-Encoding: chunked",
            b"X: y\r\n chunked",
            b"Connection: close",
            b"Expect: 100-continue",
            b"X\x00: y",
            b"X: a\rb",
        ]
    ),
    max_size=5,
)
_BODIES = st.sampled_from(
    [
        b"",
        b"hello",
        b"0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5;x=y\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: t\r\n\r\n",
        b"5\nhello\n0\n\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"\r\n",
    ]
)


def h11_requests(data: bytes) -> list[tuple[bytes, bytes]]:
    """The method and target of each request h11 reads in ``data`` (then end of input),
    in order, up to the first it cannot read. Empty lines before a request line are
    skipped, as RFC 9112 (2.2) has a server do and hyper does; h11 does not."""
    targets: list[tuple[bytes, bytes]] = []
    while True:
        while data.startswith((b"\r\n", b"\n")):
            data = data[2:] if data.startswith(b"\r\n") else data[1:]
        connection = h11.Connection(h11.SERVER)
        connection.receive_data(data)
        connection.receive_data(b"")
        try:
            while True:
                event = connection.next_event()
                if isinstance(event, h11.Request):
                    targets.append((event.method, event.target))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif (
                    event is h11.NEED_DATA
                    or event is h11.PAUSED
                    or isinstance(event, h11.ConnectionClosed)
                ):
                    return targets
            connection.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            connection.send(h11.EndOfMessage())
        except (h11.RemoteProtocolError, h11.LocalProtocolError):
            return targets  # a request h11 cannot read
        if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
            return targets  # one after which the connection closes
        data, _ = connection.trailing_data


def test_responses_split_by_their_length() -> None:
    echo = b'{"method":"GET","path":"/echo","pid":1,"uri":"/echo?canary"}'
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}"
    ) % (len(echo), echo)
    assert requests_seen(answer) == [CANARY_REQUEST, None]


def test_the_reference_parser_sees_the_canary_only_after_a_whole_request() -> None:
    whole = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    assert h11_requests(whole + CANARY) == [(b"POST", b"/echo"), CANARY_REQUEST]
    # One byte short, the body takes the canary's G.
    assert h11_requests(whole[:-1] + CANARY) == [(b"POST", b"/echo"), (b"ET", b"/echo?canary")]
    assert h11_requests(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n") == []
    assert h11_requests(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n" + CANARY) == [
        (b"GET", b"/"),
        CANARY_REQUEST,
    ]
    closing = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert h11_requests(closing + CANARY) == [(b"GET", b"/")]


def test_the_front_and_h11_agree_on_where_requests_end(hostile: Front) -> None:
    """For any head and body, the front answers no request that h11 would not read at
    that place: a canary request after the fuzzed one is answered by the app only if
    h11 too reads it as a request of its own. The front, the app and h11 therefore
    never disagree on where a request ends; the front may only be stricter."""
    port = _port(hostile)

    @settings(
        max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(_METHODS, _TARGETS, _VERSIONS, _FIELDS, _BODIES)
    @example(b"POST", b"/echo", b"HTTP/1.1", [b"Content-Length: 5"], b"hello")
    @example(
        b"POST",
        b"/echo",
        b"HTTP/1.1",
        [b"Content-Length: 5", b"Transfer-Encoding: chunked"],
        b"0\r\n\r\n",
    )
    def check(
        method: bytes, target: bytes, version: bytes, fields: list[bytes], body: bytes
    ) -> None:
        # Always a Host: h11 refuses a request without one, which is no framing matter.
        head = b" ".join([method, target, version]) + b"\r\nHost: x\r\n"
        data = head + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body + CANARY
        reference = h11_requests(data)
        answer = _exchange(port, data)
        seen = requests_seen(answer)
        why = (data, reference, seen, answer[:800])
        # Where both read requests, the app saw the very requests h11 read, in order.
        for app_saw, (method, target) in zip(seen, reference, strict=False):
            assert app_saw is None or app_saw == (method, origin_form(target)), why
        # The front may be stricter than h11, and more lenient only about a request h11
        # refuses outright (a repeated equal Content-Length, say, which RFC 9110
        # allows): then it reads nothing past it that h11 would call a request's body.
        if reference:
            assert seen.count(CANARY_REQUEST) <= reference.count(CANARY_REQUEST), why
        assert len(seen) <= 2, why
        assert all(status < 500 for status, _ in responses(answer)), why

    check()
    assert get(hostile.base + "/healthz")[0] == 200
