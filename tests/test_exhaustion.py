"""CPU exhaustion by anonymous clients: what still bounds it now that nothing is refused.

Admission refuses nothing by default (``RUSTPATH_CONCURRENCY`` is no cap): the server's
own concurrency bounds the calls, a request beyond it waits in the server's queue, and
the argument limits and the deadline bound what any one request can cost. The issue's
contract for overload protection is therefore:

- Through ``flask rustpath serve``: ``/healthz`` is answered while 20 maximum-size
  requests and 20 abandoned ones run: a probe sent while the native calls burn CPU is
  answered before they end. The front answers the native route itself, without
  gunicorn, and ``/healthz`` on its own serving thread (with the app's answer there,
  from gunicorn's idle threads), so the load never stands between a probe and a
  thread.
- With gunicorn alone: ``/healthz`` queues behind the load for a thread of its worker,
  as every request does, so it cannot be fast; it is answered once the requests queued
  before it are, and each of those is stopped at its deadline. The issue asks for
  10 s; what holds is the queue's bound, ``ceil(k / 4)`` deadlines for the ``k``
  requests its worker took, which is under 10 s here only while gunicorn splits the
  burst evenly (see below).
- Limits and deadlines still bound the cost of any one request: every maximum-size
  call, waiting or abandoned, is stopped at its deadline (a 504 in the access log),
  and the serving processes go quiet again.

The times all this takes (the busy window against the rounds of deadlines, each
probe's wait, the probes' p99) are measured and printed in every failure's report,
never asserted: CI shares two busy cores, and a test proves properties, not speeds.

Both run the shipped gunicorn config (2 workers x 4 threads) on loopback: 20 clients
send ``/rust/sum_of_primes/<MAX_N>`` and wait for the answer, 20 send it and close their
socket at once. "Maximum size" is the largest ``n`` the deployment admits. The shipped
Rust limit (10^10) finishes in seconds on a fast machine, which would let a slow
deadline pass unnoticed, so the server raises the limit to 10^17, a computation that
takes far longer than any deadline, and sets ``RUSTPATH_DEADLINE`` to 1.5 s: every
maximum-size call that runs, runs into its deadline.

When the queued work's deadlines would let the busy window end (reported)
    The clock starts at ``T0``, when the last of the 40 requests has been written.

    gunicorn alone: a worker's 4 threads take its queued requests in order, each for
    the deadline, so a worker that accepted ``k`` of them is done after
    ``ceil(k / 4)`` rounds of 1.5 s (5 rounds when the 40 split evenly). Which worker
    accepted which request is read from the access log (its format here adds the
    worker's pid); the window must end by ``T0 + rounds x (1.5 s + 0.5 s) + 2 s``, the
    0.5 s per round for calls that stop a chunk past their deadline or start late.

    The same rounds are why ``/healthz`` waits seconds with gunicorn alone: a probe
    that lands on a worker behind ``k`` queued requests is answered after
    ``floor(k / 4)`` rounds, 7.5 s when the 40 split evenly. gunicorn does not balance
    a burst of connections between its workers (each accepts what it can from the
    shared socket, and splits of 40 from 20/20 to 1/39 occur), so 10 s holds while no
    worker takes 28 or more. The report gives the split and the rounds of the worker
    that took the most.

    Through the front: 8 native calls run at once (workers x threads); the others wait
    ``RUSTPATH_ADMISSION_WAIT`` (1 s) for a slot, and since none frees that soon (the
    running ones take 1.5 s), they answer 503 ``overloaded`` with ``Retry-After``. The
    window must end by ``T0 + 1.5 s + 2 s`` (a call admitted after waiting would still
    end by ``T0 + 1 s + 1.5 s``).

How "busy" is measured
    By the CPU time the serving processes consume (gunicorn's two workers; the front's
    own process, where its native calls run), read from ``/proc/<pid>/stat``
    (``utime + stime``, which covers every thread of the process, live or ended),
    sampled every 50 ms. A window of :data:`WINDOW_S` is busy when the processes
    together burn at least :data:`BUSY_CORES` of a core over it; idle, they burn only
    what the ``/healthz`` probes cost. The busy window ends where the quiet tail
    starts: from there on, every window is below the threshold.

    CPU, not admission or answers, because a computation that outlives its deadline
    burns CPU whether or not its request was answered, and an abandoned request has
    no client to answer. Neither server sees an abandoned request as gone: gunicorn's
    gthread worker cannot observe a disconnect, and the front serves a half-closed
    connection (a client may shut its sending side once its request is out), so a
    client that closes after sending looks the same until the answer is written. Both
    run it to its deadline; what bounds its cost is that deadline. (The front's
    access log would show a call it dropped as 499; the test allows that, too.)

``/healthz`` is probed open-loop, one probe started every 50 ms on its own connection
whatever the others are doing, so a probe stuck behind the load does not hide the
probes that would have come after it. After the window, a small request still answers
correctly, the same processes serve (no restart), and the access log shows how each of
the 40 requests was answered.

The only timing check is a lower one, which a busy machine cannot break: a 503 from
the front came no sooner than the 1 s wait it states. Socket timeouts, the probe count and the
observation cap only bound the test so that it fails instead of hanging, and a window
that runs late is followed (up to the cap) so the failure says when it did end.
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench import launch as serving
from flask_rustpath.core.config import DEFAULTS
from flask_rustpath.demo import create_app

from .servers import ROOT, Front

MAX_N = 10**17
DEADLINE_S = 1.5
WAITING = 20  # clients that send a maximum-size request and wait for its answer
ABANDONED = 20  # clients that send one and close their socket at once
WORKERS = 2  # the shipped config: WEB_CONCURRENCY and GUNICORN_THREADS
THREADS = 4
MAX_SIZE_PATH = f"/rust/sum_of_primes/{MAX_N}"

# The contract.
SLOW_PROBE_S = 0.250  # probes this slow are listed in a failure's report
BUSY_AFTER_DEADLINE_S = 2.0
# A call stops within a chunk of work past its deadline, and on a loaded machine a
# round's calls (8 threads on 2 cores) also start late: allowed per queued round, so
# five rounds may overrun by 2.5 s in all.
ROUND_OVERRUN_S = 0.5
# What a call beyond the front's slots waits before its 503.
ADMISSION_WAIT_S = float(DEFAULTS["RUSTPATH_ADMISSION_WAIT"])

PROBE_EVERY_S = 0.050  # /healthz probes and CPU samples
WINDOW_S = 0.5  # CPU rate window
# Busy: the processes together burn at least this share of one core over WINDOW_S. A
# kernel thread computes at a whole core on an idle box and at a third of one beside
# `stress-ng --cpu 2` with two more kernel threads; /healthz every 50 ms costs a few
# percent.
BUSY_CORES = 0.2
QUIET_S = 1.0  # idle this long past the contract's end before the window is judged
# Bounds on the test itself, not assertions on the server's speed.
SOCKET_TIMEOUT_S = 90.0
PROBE_TIMEOUT_S = 30.0  # beyond the 10 s bound, so a late probe is measured, not lost
OBSERVE_CAP_S = 90.0  # after T0, the most we follow a busy window that runs late
MAX_PROBES = int((OBSERVE_CAP_S + 30) / PROBE_EVERY_S)
BASELINE_S = 0.5  # probes before the burst
# gunicorn's default access-log format, plus the worker's pid ("<1234>").
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s'

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


# --- measuring a burst against a real server -------------------------------------------


@dataclass
class Answer:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    error: str | None = None
    sent: float = 0.0  # when the request was written (monotonic)
    at: float = 0.0  # when the answer came (monotonic)

    @property
    def json(self) -> dict[str, object]:
        value = json.loads(self.body)
        assert isinstance(value, dict), value
        return value


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


def _wait_for(find: Callable[[], list[int]], count: int, what: str) -> list[int]:
    deadline = time.monotonic() + serving.START_TIMEOUT_S
    while True:
        found = find()
        if len(found) == count:
            return found
        assert time.monotonic() < deadline, f"{what}: {found}"
        time.sleep(0.1)


def _headers(response: http.client.HTTPResponse) -> dict[str, str]:
    """Header names in lower case: the front sends them so, gunicorn capitalised."""
    return {name.lower(): value for name, value in response.getheaders()}


def _get(base: str, path: str, timeout: float = SOCKET_TIMEOUT_S) -> Answer:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return Answer(response.status, _headers(response), response.read())
    except (OSError, http.client.HTTPException) as err:
        return Answer(error=repr(err))
    finally:
        connection.close()


def _warm_up(base: str) -> None:
    """Load the app and the Rust module in every worker: parallel requests spread over
    them, so no worker's first request lands in the measured window."""
    for _ in range(3):
        threads = [
            threading.Thread(target=_get, args=(base, path, 30.0))
            for path in ("/rust/sum_of_primes/1000", "/healthz") * 4
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def _windows(samples: list[tuple[float, int]]) -> list[tuple[float, float, float]]:
    """``(start, end, cores)`` of each window of at least WINDOW_S between two samples,
    one per sample it ends at: the processes' CPU time over it, in cores."""
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


@dataclass(repr=False)
class Outcome:
    started: float  # the first request of the burst was written
    t0: float  # the last one was
    answers: list[Answer]  # the waiting clients'
    probes: list[Probe]
    samples: list[tuple[float, int]]
    ended_at: float
    sampling_error: str | None = None

    @property
    def busy_end(self) -> float | None:
        return _busy_end(self.samples)

    @property
    def loaded_until(self) -> float:
        """The last waiting client's answer or the busy window's end, whichever is later."""
        return max([a.at for a in self.answers] + [self.busy_end or self.t0])

    def probes_under_load(self) -> list[Probe]:
        return [p for p in self.probes if self.started <= p.started <= self.loaded_until]

    def describe(self) -> str:
        statuses = Counter(str(a.status) if a.error is None else a.error for a in self.answers)
        probes = sorted(p.seconds for p in self.probes)
        loaded = sorted(p.seconds for p in self.probes_under_load())
        slow = [
            (round(p.started - self.t0, 2), round(p.seconds, 3), p.status, p.error)
            for p in self.probes
            if p.seconds >= SLOW_PROBE_S or p.status != 200
        ]
        busy_end = self.busy_end
        rates = [
            (round(end - self.t0, 2), round(cores, 2))
            for _, end, cores in _windows(self.samples)[::4]
        ]
        came = sorted(
            (round(a.at - self.t0, 2), a.status, round(a.at - a.sent, 2)) for a in self.answers
        )
        return (
            f"burst written over {self.t0 - self.started:.3f} s\n"
            f"waiting clients' answers: {dict(statuses)}; "
            f"(t - T0, status, s after sent): {came}\n"
            f"/healthz: {len(probes)} probes, p50 {probes[len(probes) // 2]:.3f} s, "
            f"p99 {_p99(probes):.3f} s, max {probes[-1]:.3f} s; under load "
            f"(T0 - {self.t0 - self.started:.2f} s to T0 + "
            f"{self.loaded_until - self.t0:.2f} s): {len(loaded)} probes, "
            f"p99 {_p99(loaded) if loaded else float('nan'):.3f} s, "
            f"max {loaded[-1] if loaded else float('nan'):.3f} s\n"
            f"slow or failed probes (t - T0, s, status, error), {len(slow)}: {slow[:60]}\n"
            f"busy window ends at T0 + "
            f"{'never busy' if busy_end is None else f'{busy_end - self.t0:.2f} s'}; "
            f"observed until T0 + {self.ended_at - self.t0:.2f} s; "
            f"sampling error: {self.sampling_error}\n"
            f"CPU, cores by window (t - T0, cores): {rates}"
        )


def _burst(base: str, pids: list[int], follow_s: float) -> Outcome:
    """20 waiting and 20 abandoned maximum-size requests at once, with ``/healthz``
    probed and the CPU of ``pids`` sampled throughout; followed for at least
    ``follow_s`` after T0, then until every client is answered and the CPU has been
    quiet for a while, or the cap."""
    port = int(base.rsplit(":", 1)[1])
    request = f"GET {MAX_SIZE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    stop = threading.Event()
    samples: list[tuple[float, int]] = []
    sampling_error: list[str] = []
    probes: list[Probe] = []
    probe_threads: list[threading.Thread] = []

    def sample() -> None:
        while not stop.is_set():
            now = time.monotonic()
            try:
                samples.append((now, sum(_cpu_ticks(pid) for pid in pids)))
            except (OSError, ValueError) as err:  # a process is gone: the test says so
                sampling_error.append(repr(err))
                return
            stop.wait(PROBE_EVERY_S)

    def probe_once() -> None:
        started = time.monotonic()
        answer = _get(base, "/healthz", timeout=PROBE_TIMEOUT_S)
        probes.append(Probe(started, time.monotonic() - started, answer.status, answer.error))

    def probe() -> None:
        """Open-loop: one probe every PROBE_EVERY_S, each on its own thread."""
        next_at = time.monotonic()
        while not stop.is_set() and len(probe_threads) < MAX_PROBES:
            thread = threading.Thread(target=probe_once)
            probe_threads.append(thread)
            thread.start()
            next_at += PROBE_EVERY_S
            stop.wait(max(0.0, next_at - time.monotonic()))

    answers = [Answer(error="never sent") for _ in range(WAITING)]
    sent_at = [0.0] * (WAITING + ABANDONED)
    barrier = threading.Barrier(WAITING + ABANDONED, timeout=30)

    def wait_for_answer(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
            barrier.wait()
            sock.sendall(request)
            sent = sent_at[i] = time.monotonic()
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
                answers[i] = Answer(response.status, _headers(response), response.read())
            except (OSError, http.client.HTTPException) as err:
                answers[i] = Answer(error=repr(err))
            answers[i].sent = sent
            answers[i].at = time.monotonic()

    def abandon(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
            barrier.wait()
            sock.sendall(request)
        sent_at[WAITING + i] = time.monotonic()

    background = [threading.Thread(target=sample), threading.Thread(target=probe)]
    clients = [threading.Thread(target=wait_for_answer, args=(i,)) for i in range(WAITING)]
    clients += [threading.Thread(target=abandon, args=(i,)) for i in range(ABANDONED)]
    for thread in background:
        thread.start()
    try:
        time.sleep(BASELINE_S)
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 60
        while not all(sent_at) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(sent_at), "a request of the burst was never sent"
        started, t0 = min(sent_at), max(sent_at)
        cap = t0 + OBSERVE_CAP_S
        while time.monotonic() < cap:
            time.sleep(PROBE_EVERY_S)
            now = time.monotonic()
            if now < t0 + follow_s + QUIET_S or any(t.is_alive() for t in clients):
                continue
            end = _busy_end(list(samples))
            if end is None or now - end >= QUIET_S + WINDOW_S:
                break
    finally:
        stop.set()
        for thread in background + clients:
            thread.join(SOCKET_TIMEOUT_S)
        for thread in list(probe_threads):
            thread.join(PROBE_TIMEOUT_S)
    error = sampling_error[0] if sampling_error else None
    return Outcome(started, t0, answers, probes, samples, time.monotonic(), error)


def _max_size_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if f'"GET {MAX_SIZE_PATH} HTTP/1.1" ' in line]


def _status(line: str) -> str:
    found = re.search(r'HTTP/1\.1" (\d{3}) ', line)
    assert found, line
    return found[1]


def _tail(log: str, lines: int = 40) -> str:
    """The log's last lines but the probes' access lines."""
    kept = [line for line in log.splitlines() if '"GET /healthz ' not in line]
    return "\n".join(kept[-lines:])


def _server_env() -> dict[str, str]:
    return {
        "WEB_CONCURRENCY": str(WORKERS),  # the shipped defaults, whatever this shell says
        "GUNICORN_THREADS": str(THREADS),
        "RUSTPATH_LIMITS": json.dumps({"sum_of_primes": {"rust": {"n": MAX_N}}}),
        "RUSTPATH_DEADLINE": str(DEADLINE_S),
    }


# --- gunicorn alone ----------------------------------------------------------------------


@pytest.mark.slow
def test_with_gunicorn_alone_every_request_is_answered_and_healthz_after_the_queue(
    tmp_path: Path,
) -> None:
    """Default admission, no cap: nothing is refused. Every waiting client gets its
    504, every /healthz probe is answered once the requests queued before it are,
    every call stops at its deadline, and the same workers serve on."""
    log_path = tmp_path / "gunicorn.log"
    args = ("--access-logformat", ACCESS_LOG_FORMAT)
    with serving.gunicorn(
        _server_env(), log_path, args=args, cwd=ROOT, ready_path="/healthz"
    ) as base:
        master = _gunicorn_master(int(base.rsplit(":", 1)[1]))
        workers = _wait_for(lambda: _workers(master), WORKERS, f"workers of {master}")
        _warm_up(base)
        # The worst case, every request in one worker, to follow a late window.
        worst_rounds = math.ceil((WAITING + ABANDONED) / THREADS)
        outcome = _burst(base, workers, follow_s=worst_rounds * (DEADLINE_S + ROUND_OVERRUN_S))
        after = _get(base, "/rust/sum_of_primes/100")
        workers_after = _workers(master)
    log = log_path.read_text(errors="replace")
    lines = _max_size_lines(log)
    by_worker = Counter(line.rsplit(" ", 1)[1] for line in lines)
    rounds = max(math.ceil(k / THREADS) for k in by_worker.values()) if by_worker else 0
    bound = rounds * (DEADLINE_S + ROUND_OVERRUN_S) + BUSY_AFTER_DEADLINE_S
    ahead = max(by_worker.values(), default=0) // THREADS  # rounds before a probe's turn
    report = (
        f"{outcome.describe()}\nmaximum-size requests by worker: {dict(by_worker)} "
        f"({rounds} rounds of {DEADLINE_S} s: the window must end by T0 + {bound} s; "
        f"a probe behind the most queued waits about {ahead * DEADLINE_S} s)"
        f"\n--- gunicorn log (tail) ---\n{_tail(log)}"
    )

    # Every waiting client was answered with a JSON 504: no cap, so no 503, and 10^17
    # never finishes within 1.5 s.
    for answer in outcome.answers:
        assert (answer.error, answer.status) == (None, 504), report
        assert answer.headers.get("content-type") == "application/json", report
        assert answer.json["error"] == "deadline_exceeded", report
    # The abandoned ones too, by the access log: each of the 40 ran to its deadline.
    assert len(lines) == WAITING + ABANDONED, report
    assert {_status(line) for line in lines} == {"504"}, report
    assert set(by_worker) <= {f"<{pid}>" for pid in workers}, report
    assert "Traceback" not in log, report

    # The burst made the workers busy, and they went quiet again: every call above
    # stopped at its deadline (how long that took is in the report).
    assert outcome.sampling_error is None, report
    assert outcome.busy_end is not None, report

    # The same two workers still serve, correctly.
    assert workers_after == workers, report
    assert (after.status, after.body) == (200, b'{"result":1060}\n'), report

    # /healthz: every probe answered 200, under load too, once the requests queued
    # before it on its worker were (each wait is in the report).
    assert outcome.probes_under_load(), report
    for probe in outcome.probes:
        assert (probe.error, probe.status) == (None, 200), report


# --- through the Rust front ----------------------------------------------------------------


@pytest.mark.slow
def test_through_the_front_healthz_stays_fast_and_the_native_work_stops_at_its_deadline(
    tmp_path: Path,
) -> None:
    """``flask rustpath serve --workers 2 --threads 4``: 8 native calls run, the rest
    wait 1 s for a slot and answer 503; /healthz is answered while the native calls
    still run, the front's CPU goes quiet again, and everything still serves."""
    log_path = tmp_path / "front.log"
    with serving.front(
        _server_env(),
        log_path,
        workers=WORKERS,
        threads=THREADS,
        cwd=ROOT,
        ready_path="/healthz",
    ) as running:
        serve = Front(running.base, running.process, log_path)
        # gunicorn's master and its two workers, behind the front.
        gunicorn = _wait_for(serve.gunicorn_pids, 1 + WORKERS, "gunicorn behind the front")
        _warm_up(running.base)
        outcome = _burst(running.base, [running.process.pid], follow_s=DEADLINE_S)
        after = _get(running.base, "/rust/sum_of_primes/100")
        proxied = _get(running.base, "/hello")
        gunicorn_after = serve.gunicorn_pids()
        front_alive = running.process.poll() is None
    log = log_path.read_text(errors="replace")  # complete: the front flushed it on stop
    lines = _max_size_lines(log)
    statuses = Counter(_status(line) for line in lines)
    loaded = [p.seconds for p in outcome.probes_under_load()]
    bound = DEADLINE_S + BUSY_AFTER_DEADLINE_S
    ran_abandoned = statuses["504"] - sum(a.status == 504 for a in outcome.answers)
    report = (
        f"{outcome.describe()}\nthe 40 in the front's access log: {dict(statuses)}; "
        f"abandoned ones that ran to their deadline: {ran_abandoned} "
        f"(the window must end by T0 + {bound} s)\n--- front log (tail) ---\n{_tail(log)}"
    )

    # Every waiting client was answered: 504 at its deadline if it got one of the 8
    # slots, else 503 overloaded with Retry-After once it had waited for one.
    for answer in outcome.answers:
        assert answer.error is None and answer.status in (503, 504), report
        assert answer.headers.get("content-type") == "application/json", report
        if answer.status == 504:
            assert answer.json["error"] == "deadline_exceeded", report
        else:
            assert answer.json["error"] == "overloaded", report
            assert answer.headers.get("retry-after", "").isdigit(), report
            # Refused only after the stated wait (timers never fire early; 50 ms is
            # clock granularity between this process and the front's).
            assert answer.at - answer.sent >= ADMISSION_WAIT_S - 0.05, report
    # The access log has each of the 40: 504 or 503 (or 499 for an abandoned one the
    # front dropped), never a 200 or another status.
    assert sum(statuses.values()) == WAITING + ABANDONED, report
    assert set(statuses) <= {"503", "504", "499"}, report
    if outcome.t0 - outcome.started < DEADLINE_S - ADMISSION_WAIT_S:
        # All 40 came within 0.5 s, so no slot freed within any queued call's 1 s wait:
        # exactly one call per slot ran, and the front has workers x threads of them.
        assert statuses["504"] == WORKERS * THREADS, report
    assert "Traceback" not in log and "panicked" not in log, report

    # /healthz: every probe answered 200, and health progressed during the native
    # calls: a probe sent while the front burned CPU on them was answered before they
    # ended (the probes' p99 is in the report).
    assert loaded, report
    for probe in outcome.probes:
        assert (probe.error, probe.status) == (None, 200), report
    assert outcome.sampling_error is None, report
    assert outcome.busy_end is not None, report  # the burst did make the front busy
    assert any(
        outcome.t0 <= probe.started and probe.started + probe.seconds < outcome.busy_end
        for probe in outcome.probes
    ), report

    # The same processes still serve, natively and through gunicorn.
    assert front_alive, report
    assert gunicorn_after == gunicorn, report
    assert (after.status, after.body) == (200, b'{"result":1060}\n'), report
    assert (proxied.status, proxied.body) == (200, b"Hello, World!"), report
