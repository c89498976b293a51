"""CPU exhaustion by anonymous clients: admission, deadlines and abandoned requests.

The issue's contract, over real gunicorn with the shipped config (2 workers x 4
threads) on loopback: 20 anonymous maximum-size requests plus 20 abandoned ones run in
parallel; ``/healthz`` keeps its p99 under 250 ms, and the busy window after the
abandoned ones ends within 2 s of their deadline.

"Maximum size" is the largest ``n`` the deployment admits. The shipped Rust limit
(10^10) finishes in seconds on a fast machine, which would let a slow deadline pass
unnoticed, so the server raises the limit to 10^17, a computation that takes far
longer than any deadline, and sets ``RUSTPATH_DEADLINE`` to 1.5 s. Admission is the
default (``RUSTPATH_CONCURRENCY``: ``rust`` = cores per worker).

How "busy" is measured
    By the CPU time the gunicorn workers consume, read from ``/proc/<pid>/stat``
    (``utime + stime``, which covers every thread of the process, live or ended),
    sampled every 50 ms. A window of :data:`WINDOW_S` is busy when the workers together
    burn at least :data:`BUSY_CORES` of a core over it; idle, they burn only what the
    ``/healthz`` probes cost. The busy window ends where the quiet tail starts: from
    there on, every window is below the threshold.

    This is the more honest property than admission. The issue's complaint is that
    "nothing stops a computation whose client has gone", and a computation that
    outlives its deadline burns CPU whether or not its admission slot was handed back
    (a slot released by Python while Rust threads keep computing would look idle to an
    admission probe). An admission probe also cannot aim at a worker: a burst of probes
    may all land on one worker and be refused while every slot of the other is free.
    After the window, a small request still answers correctly, the same two workers
    serve (no restart), and the access log shows how each of the 40 requests was
    answered.

The clock starts at ``T0``, when the last abandoned request has been written and its
socket closed; their deadline is ``T0 + RUSTPATH_DEADLINE``, and the busy window must
end by ``T0 + RUSTPATH_DEADLINE + 2 s``. Nothing else here is a timing assertion:
socket timeouts and the observation cap only bound the test so that it fails instead
of hanging, and a window that runs late is followed (up to the cap) so the failure
says when it did end.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flask_rustpath import serving
from flask_rustpath.demo import create_app

from .servers import ROOT

MAX_N = 10**17
DEADLINE_S = 1.5
WAITING = 20  # clients that send a maximum-size request and wait for its answer
ABANDONED = 20  # clients that send one and close their socket at once

# The contract.
HEALTHZ_P99_S = 0.250
BUSY_AFTER_DEADLINE_S = 2.0

PROBE_EVERY_S = 0.050  # /healthz probes and CPU samples
WINDOW_S = 0.5  # CPU rate window
# Busy: the workers together burn at least this share of one core over WINDOW_S. A
# kernel thread computes at a whole core on an idle box and at a third of one beside
# `stress-ng --cpu 2` with two more kernel threads; /healthz every 50 ms costs a few
# percent.
BUSY_CORES = 0.2
QUIET_S = 1.0  # idle this long past the contract's end before the window is judged
# Bounds on the test itself, not assertions on the server's speed.
SOCKET_TIMEOUT_S = 90.0
OBSERVE_CAP_S = 90.0  # after T0, the most we follow a busy window that runs late
BASELINE_S = 0.5  # probes before the burst

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the fast, in-process check --------------------------------------------------------


def test_a_call_past_its_deadline_is_a_json_504_and_gives_its_slot_back() -> None:
    """One Rust slot per worker and a 0.2 s deadline: a long call answers 504 JSON, and
    the slot is free afterwards, for a short call (200) and for another long one (504
    again, where a slot kept by the first call would answer 503 overloaded)."""
    n = 10**15  # seconds of work on two cores: always past a 0.2 s deadline
    app = create_app(
        {
            "TESTING": True,
            "RUSTPATH_DEADLINE": 0.2,
            "RUSTPATH_CONCURRENCY": {"rust": 1},
            "RUSTPATH_LIMITS": {"sum_of_primes": {"rust": {"n": n}}},
        }
    )
    client = app.test_client()
    for _ in range(2):
        response = client.get(f"/rust/sum_of_primes/{n}")
        assert response.status_code == 504, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        assert response.json is not None
        assert response.json["error"] == "deadline_exceeded"
        assert isinstance(response.json["message"], str)
        admitted = client.get("/rust/sum_of_primes/100")
        assert (admitted.status_code, admitted.json) == (200, {"result": 1060})


# --- the contract, under real gunicorn -------------------------------------------------


@dataclass
class Answer:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    at: float = 0.0  # when it came (monotonic)


@dataclass
class Probe:
    started: float
    seconds: float
    status: int | None
    error: str | None = None


def _proc_stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _ppid(pid: int) -> int:
    return int(_proc_stat(pid)[1])


def _cpu_ticks(pid: int) -> int:
    fields = _proc_stat(pid)
    return int(fields[11]) + int(fields[12])  # utime + stime: fields 14 and 15


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _gunicorn_master(port: int) -> int:
    """Our child process serving on ``port`` (other tests may run other servers)."""
    bind = f"GUNICORN_BIND=127.0.0.1:{port}".encode()
    for pid in _pids():
        try:
            if _ppid(pid) != os.getpid():
                continue
            if bind in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                return pid
        except (OSError, ValueError):
            continue
    raise AssertionError(f"no gunicorn child of this process serves port {port}")


def _workers(master: int) -> list[int]:
    children = []
    for pid in _pids():
        try:
            if _ppid(pid) == master:
                children.append(pid)
        except (OSError, ValueError):
            continue
    return sorted(children)


def _get(base: str, path: str, timeout: float = SOCKET_TIMEOUT_S) -> Answer:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return Answer(response.status, dict(response.headers), response.read())
    except OSError as err:
        return Answer(error=repr(err))
    finally:
        connection.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def _windows(samples: list[tuple[float, int]]) -> list[tuple[float, float, float]]:
    """``(start, end, cores)`` of each window of at least WINDOW_S between two samples,
    one per sample it ends at: the workers' CPU time over it, in cores."""
    windows = []
    start = 0
    for end in range(1, len(samples)):
        while samples[end][0] - samples[start + 1][0] >= WINDOW_S:
            start += 1
        t0, ticks0 = samples[start]
        t1, ticks1 = samples[end]
        if t1 - t0 >= WINDOW_S:
            windows.append((t0, t1, (ticks1 - ticks0) / CLK_TCK / (t1 - t0)))
    return windows


def _busy_end(samples: list[tuple[float, int]]) -> float | None:
    """Where the quiet tail starts: every window starting there or later is below
    BUSY_CORES (so less than BUSY_CORES·WINDOW_S of CPU runs in any of them). ``None``
    if no window was busy."""
    windows = _windows(samples)
    busy = [i for i, (_, _, cores) in enumerate(windows) if cores >= BUSY_CORES]
    if not busy:
        return None
    if busy[-1] + 1 < len(windows):
        return windows[busy[-1] + 1][0]
    return windows[-1][1]  # still busy when sampling stopped


@pytest.mark.slow
def test_abandoned_and_maximum_size_requests_leave_healthz_fast_and_stop_at_their_deadline(
    tmp_path: Path,
) -> None:
    env = {
        "WEB_CONCURRENCY": "2",  # the shipped defaults, whatever this shell exports
        "GUNICORN_THREADS": "4",
        "RUSTPATH_LIMITS": json.dumps({"sum_of_primes": {"rust": {"n": MAX_N}}}),
        "RUSTPATH_DEADLINE": str(DEADLINE_S),
    }
    log_path = tmp_path / "gunicorn.log"
    with serving.gunicorn(env, log_path, cwd=ROOT, ready_path="/healthz") as base:
        port = int(base.rsplit(":", 1)[1])
        master = _gunicorn_master(port)
        workers = _wait_for_workers(master, count=2)
        _warm_up(base)
        outcome = _burst(base, port, workers)
        after = _get(base, "/rust/sum_of_primes/100")
        workers_after = _workers(master)
    log = log_path.read_text(errors="replace")
    report = outcome.describe() + f"\n--- gunicorn log (tail) ---\n{_tail(log)}"

    # Every waiting client was answered: 503 overloaded with Retry-After, or 504.
    for answer in outcome.answers:
        assert answer.error is None and answer.status in (503, 504), report
        assert answer.headers.get("Content-Type") == "application/json", report
        body = json.loads(answer.body)
        expected = "overloaded" if answer.status == 503 else "deadline_exceeded"
        assert body["error"] == expected, report
        if answer.status == 503:
            assert answer.headers.get("Retry-After", "").isdigit(), report
    # The abandoned ones too, by the access log: no 200 and no other 5xx for any of the 40.
    statuses = re.findall(rf'"GET /rust/sum_of_primes/{MAX_N} HTTP/1.1" (\d+)', log)
    assert len(statuses) == WAITING + ABANDONED, report
    assert set(statuses) <= {"503", "504"}, report
    assert "Traceback" not in log, report

    # /healthz: every probe 200, p99 under 250 ms.
    assert all(p.status == 200 for p in outcome.probes), report
    assert outcome.healthz_p99 < HEALTHZ_P99_S, report

    # The busy window ends within 2 s of the abandoned requests' deadline.
    assert outcome.busy_end is not None, report  # the burst did make the workers busy
    assert outcome.busy_end - outcome.t0 <= DEADLINE_S + BUSY_AFTER_DEADLINE_S, report

    # The same two workers still serve, correctly.
    assert workers_after == workers, report
    assert (after.status, after.body) == (200, b'{"result":1060}\n'), report


def _wait_for_workers(master: int, count: int) -> list[int]:
    deadline = time.monotonic() + serving.START_TIMEOUT_S
    while True:
        workers = _workers(master)
        if len(workers) == count:
            return workers
        assert time.monotonic() < deadline, f"workers of {master}: {workers}"
        time.sleep(0.1)


def _warm_up(base: str) -> None:
    """Load the app and import the Rust module in both workers: parallel requests
    spread over them, so no worker's first request lands in the measured window."""
    for _ in range(3):
        threads = [
            threading.Thread(target=_get, args=(base, path, 30.0))
            for path in ("/rust/sum_of_primes/1000", "/healthz") * 4
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)


@dataclass(repr=False)
class Outcome:
    t0: float
    answers: list[Answer]
    probes: list[Probe]
    samples: list[tuple[float, int]]
    ended_at: float

    @property
    def healthz_p99(self) -> float:
        return _p99([p.seconds for p in self.probes])

    @property
    def busy_end(self) -> float | None:
        return _busy_end(self.samples)

    def describe(self) -> str:
        statuses: dict[str, int] = {}
        for answer in self.answers:
            key = str(answer.status) if answer.error is None else answer.error
            statuses[key] = statuses.get(key, 0) + 1
        probes = sorted(p.seconds for p in self.probes)
        slow = [
            (round(p.started - self.t0, 2), round(p.seconds, 3), p.status, p.error)
            for p in self.probes
            if p.seconds >= HEALTHZ_P99_S or p.status != 200
        ]
        busy_end = self.busy_end
        rates = [
            (round(end - self.t0, 2), round(cores, 2))
            for _, end, cores in _windows(self.samples)[::4]
        ]
        late = sorted(round(a.at - self.t0, 2) for a in self.answers if a.status == 504)
        return (
            f"waiting clients' answers: {statuses}; the 504s came at T0 + {late} s\n"
            f"/healthz: {len(probes)} probes, p50 {probes[len(probes) // 2]:.3f} s, "
            f"p99 {self.healthz_p99:.3f} s, max {probes[-1]:.3f} s; "
            f"slow or failed (t - T0, s, status, error): {slow}\n"
            f"busy window ends at T0 + "
            f"{'never busy' if busy_end is None else f'{busy_end - self.t0:.2f} s'} "
            f"(contract: T0 + {DEADLINE_S + BUSY_AFTER_DEADLINE_S} s); "
            f"observed until T0 + {self.ended_at - self.t0:.2f} s\n"
            f"workers' CPU, cores by window (t - T0, cores): {rates}"
        )


def _burst(base: str, port: int, workers: list[int]) -> Outcome:
    path = f"/rust/sum_of_primes/{MAX_N}"
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    stop = threading.Event()
    samples: list[tuple[float, int]] = []
    probes: list[Probe] = []

    def sample() -> None:
        while not stop.is_set():
            now = time.monotonic()
            samples.append((now, sum(_cpu_ticks(pid) for pid in workers)))
            stop.wait(PROBE_EVERY_S)

    def probe() -> None:
        while not stop.is_set():
            started = time.monotonic()
            answer = _get(base, "/healthz", timeout=10.0)
            probes.append(Probe(started, time.monotonic() - started, answer.status, answer.error))
            stop.wait(max(0.0, started + PROBE_EVERY_S - time.monotonic()))

    answers = [Answer() for _ in range(WAITING)]
    sent_at = [0.0] * ABANDONED
    barrier = threading.Barrier(WAITING + ABANDONED, timeout=30)

    def wait_for_answer(i: int) -> None:
        answers[i] = Answer(error="never sent")
        with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
            barrier.wait()
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
                answers[i] = Answer(response.status, dict(response.headers), response.read())
            except OSError as err:
                answers[i] = Answer(error=repr(err))
            answers[i].at = time.monotonic()

    def abandon(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
            barrier.wait()
            sock.sendall(request)
        sent_at[i] = time.monotonic()

    background = [threading.Thread(target=sample), threading.Thread(target=probe)]
    clients = [threading.Thread(target=wait_for_answer, args=(i,)) for i in range(WAITING)]
    clients += [threading.Thread(target=abandon, args=(i,)) for i in range(ABANDONED)]
    for thread in background:
        thread.start()
    try:
        time.sleep(BASELINE_S)
        for thread in clients:
            thread.start()
        for thread in clients[WAITING:]:
            thread.join(60)
        assert all(sent_at), "an abandoned request was never sent"
        t0 = max(sent_at)
        contract_end = t0 + DEADLINE_S + BUSY_AFTER_DEADLINE_S
        cap = t0 + OBSERVE_CAP_S
        # Follow the window past the contract's end until it has been quiet for
        # QUIET_S and every waiting client is answered, or until the cap.
        while time.monotonic() < cap:
            time.sleep(PROBE_EVERY_S)
            now = time.monotonic()
            if now < contract_end + QUIET_S or any(t.is_alive() for t in clients):
                continue
            end = _busy_end(list(samples))
            if end is None or now - end >= QUIET_S + WINDOW_S:
                break
    finally:
        stop.set()
        for thread in background + clients:
            thread.join(SOCKET_TIMEOUT_S)
    return Outcome(t0, answers, probes, samples, time.monotonic())


def _tail(log: str, lines: int = 40) -> str:
    """The log's last lines but the probes' access lines."""
    kept = [line for line in log.splitlines() if '"GET /healthz ' not in line]
    return "\n".join(kept[-lines:])
