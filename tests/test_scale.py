"""Scale-out: replicas of the real image behind a real load balancer, scraped by a real
Prometheus, and the Kubernetes manifests run by ``podman kube play``.

- Three replicas (podman) behind HAProxy, which checks each one's ``/healthz``. A
  rolling restart of all three, one at a time (``podman stop``: SIGTERM, the drain,
  the graceful stop; then ``podman start``), under a bounded ``hey`` load on a native
  and a proxied URL: not one request fails.
- Prometheus scrapes every replica. Shadow mismatches planted through the balancer,
  spread over the replicas, add up in a PromQL ``sum`` to exactly the planted count.
- ``deploy/kubernetes`` (ConfigMap and Deployment) runs as one replica under ``podman
  kube play``: non-root, read-only root filesystem, and the ConfigMap's drain delay.

The replicas serve ``tests/apps/front_app.py``, mounted into each container (test code
stays out of the image): the Rust front answers its shadowed kernel natively and
compares a sample with the Python side, which is off by one at ``n = 1000``, so each
request for that URL is one mismatch.

Needs what the container tests need, plus haproxy, prometheus, hey and catatonit (for
kube play's pause container). Figures are printed; docs/scaling.md quotes them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flask_rustpath.serving import hey

from . import support
from .images import ROOT, RUN_FLAGS, podman
from .servers import free_port, get

pytestmark = [pytest.mark.scale, pytest.mark.container, pytest.mark.slow]

REPLICAS = 3
APP_FILE = ROOT / "tests" / "apps" / "front_app.py"
# The drain of each replica: long enough for HAProxy (checks every 0.5 s, down after 2
# failures) to take it out of rotation while it still serves.
DRAIN_S = 3
REPLICA_ENV = {
    "GUNICORN_APP": "front_app:create_app()",
    "WEB_CONCURRENCY": "1",
    "GUNICORN_THREADS": "4",
    "DRAIN_DELAY": str(DRAIN_S),
    "RUSTPATH_THREADS": "1",
}
# The load: each hey run is bounded in time and rate; runs follow each other while the
# restart goes on, at most MAX_LOAD_RUNS of them.
LOAD_RUN_S = 5
LOAD_CONCURRENCY = 2
LOAD_RATE = 15  # requests per second per hey worker
MAX_LOAD_RUNS = 40
LOAD_PATHS = ("/rust/shadowed/100", "/python/shadowed/100")  # native, and through gunicorn
# Bounds of each step of the restart.
STOP_TIMEOUT_S = 30
UP_TIMEOUT_S = 90
# Planted shadow mismatches: front_app's reference is off by one at n = 1000 only.
PLANTED = 12
MATCHING = 6


def need_tools() -> None:
    for tool, package in (("haproxy", "haproxy"), ("prometheus", "prometheus"), ("hey", "hey")):
        if shutil.which(tool) is None:
            support.missing(f"{tool} not found: apt-get install {package}")


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[scale] {line}", flush=True)


@dataclass
class Replica:
    name: str
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def logs(name: str) -> str:
    result = podman("logs", name, check=False)
    return result.stdout + result.stderr


def wait_healthy(replica: Replica, timeout: float = UP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            if get(replica.base + "/healthz", timeout=2)[0] == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{replica.name} not healthy:\n{logs(replica.name)[-4000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def replicas(image: str) -> Iterator[list[Replica]]:
    need_tools()
    prefix = f"rpscale-{secrets.token_hex(3)}"
    started: list[Replica] = []
    env = [f"--env={key}={value}" for key, value in REPLICA_ENV.items()]
    mount = f"--volume={APP_FILE}:/home/rustpath/front_app.py:ro"
    try:
        for index in range(1, REPLICAS + 1):
            replica = Replica(f"{prefix}-{index}", free_port())
            podman(
                "run", "--detach", "--name", replica.name, *RUN_FLAGS,
                "--health-interval=disable", "--publish", f"127.0.0.1:{replica.port}:8000",
                mount, *env, image,
            )  # fmt: skip
            started.append(replica)
        for replica in started:
            wait_healthy(replica)
        yield started
    finally:
        for replica in started:
            podman("rm", "--force", "--time", "0", replica.name, check=False)


HAPROXY_CONFIG = """\
global
    maxconn 512
    stats socket {scratch}/haproxy.sock mode 600

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 2s
    option http-keep-alive
    # A connection a replica refuses is tried on another one.
    retries 2
    option redispatch 1

frontend app
    bind 127.0.0.1:{port}
    default_backend replicas

frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats

backend replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fastinter 500ms downinter 1s fall 2 rise 2
{servers}
"""


@dataclass
class Balancer:
    base: str
    stats_url: str
    process: subprocess.Popen[bytes]
    down_at: dict[str, float] = field(default_factory=dict)

    def servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's stats of each replica (its CSV row by column name)."""
        _, _, body = get(self.stats_url + ";csv", timeout=5)
        rows = csv.DictReader(io.StringIO(body.decode().lstrip("# ")))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_for(self, name: str, status: str, timeout: float = UP_TIMEOUT_S) -> None:
        """Until HAProxy has ``name`` in ``status`` (when it got there: ``down_at``)."""
        deadline = time.monotonic() + timeout
        while (found := self.servers()[name]["status"]) != status:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"HAProxy has {name} {found}, not {status}")
            time.sleep(0.05)
        if status == "DOWN":
            self.down_at[name] = time.monotonic()

    def marked_down(self, name: str) -> bool:
        return name in self.down_at


@pytest.fixture(scope="module")
def balancer(
    replicas: list[Replica], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Balancer]:
    scratch = tmp_path_factory.mktemp("haproxy")
    port, stats_port = free_port(), free_port()
    servers = "\n".join(
        f"    server {replica.name} 127.0.0.1:{replica.port} check" for replica in replicas
    )
    config = scratch / "haproxy.cfg"
    config.write_text(
        HAPROXY_CONFIG.format(scratch=scratch, port=port, stats_port=stats_port, servers=servers)
    )
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    log = (scratch / "haproxy.log").open("wb")
    process = subprocess.Popen(
        ["haproxy", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    running = Balancer(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats_port}/stats", process)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if all(row["status"] == "UP" for row in running.servers().values()):
                    break
            assert process.poll() is None, (scratch / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "HAProxy did not see every replica UP"
            time.sleep(0.2)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: flask-rustpath
    metrics_path: /rustpath/metrics
    static_configs:
      - targets: {targets}
"""


@dataclass
class Prometheus:
    base: str

    def query(self, promql: str) -> list[dict[str, object]]:
        url = f"{self.base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        status, _, body = get(url, timeout=5)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", answer
        return answer["data"]["result"]  # type: ignore[no-any-return]

    def scalar(self, promql: str) -> float | None:
        """The value of a query with one series, or None when it has none."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None  # type: ignore[index]


@pytest.fixture(scope="module")
def prometheus(
    replicas: list[Replica], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    scratch = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    targets = json.dumps([f"127.0.0.1:{replica.port}" for replica in replicas])
    (scratch / "prometheus.yml").write_text(PROMETHEUS_CONFIG.format(targets=targets))
    log = (scratch / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={scratch / 'prometheus.yml'}",
            f"--storage.tsdb.path={scratch / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                if running.scalar("sum(up)") == REPLICAS:
                    break
            assert process.poll() is None, (scratch / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus did not scrape every replica"
            time.sleep(0.5)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class Load:
    """hey runs, one after another on each URL, until told to stop."""

    base: str
    stop: threading.Event = field(default_factory=threading.Event)
    summaries: list[hey.HeySummary] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self, path: str) -> None:
        for _ in range(MAX_LOAD_RUNS):
            if self.stop.is_set():
                return
            command = [
                "hey", "-z", f"{LOAD_RUN_S}s", "-c", str(LOAD_CONCURRENCY),
                "-q", str(LOAD_RATE), "-t", "20", "-disable-redirects", self.base + path,
            ]  # fmt: skip
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=LOAD_RUN_S + 60
                )
            except subprocess.TimeoutExpired:
                self.failures.append(f"hey ran past its bound on {path}")
                return
            if done.returncode != 0:
                self.failures.append(f"hey exited with {done.returncode}: {done.stderr[-500:]}")
                return
            self.summaries.append(hey.parse(done.stdout))


def test_rolling_restart_under_load_fails_no_request(
    replicas: list[Replica], balancer: Balancer, capsys: pytest.CaptureFixture[str]
) -> None:
    load = Load(balancer.base)
    threads = [threading.Thread(target=load.run, args=(path,)) for path in LOAD_PATHS]
    for thread in threads:
        thread.start()
    # Per replica, seconds from `podman stop`: HAProxy marks it DOWN, the container has
    # exited, HAProxy has it UP again after `podman start`.
    times: dict[str, tuple[float, float, float]] = {}
    try:
        time.sleep(2)  # the load runs before the first stop
        for replica in replicas:
            started = time.monotonic()
            down = threading.Thread(target=balancer.wait_for, args=(replica.name, "DOWN", 60))
            down.start()
            podman(
                "stop", "--time", str(STOP_TIMEOUT_S), replica.name, timeout=STOP_TIMEOUT_S + 30
            )
            exited = time.monotonic() - started
            code = podman("inspect", "--format", "{{.State.ExitCode}}", replica.name).stdout
            assert code.strip() == "0", logs(replica.name)
            # The health checks saw it go: a replica is never restarted behind HAProxy's back.
            down.join(timeout=5)
            assert not down.is_alive() and balancer.marked_down(replica.name), "not DOWN"
            down_after = balancer.down_at[replica.name] - started
            podman("start", replica.name)
            balancer.wait_for(replica.name, "UP")
            times[replica.name] = (down_after, exited, time.monotonic() - started)
        time.sleep(2)  # and after the last start, on all three again
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=LOAD_RUN_S + 90)
    assert not load.failures, load.failures
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    for summary in load.summaries:
        for status, count in summary.status_codes.items():
            statuses[status] = statuses.get(status, 0) + count
        for message, count in summary.errors.items():
            errors[message] = errors.get(message, 0) + count
    served = sum(count for status, count in statuses.items() if 200 <= status < 300)
    failed = sum(statuses.values()) - served + sum(errors.values())
    stats = balancer.servers()
    retried = sum(int(row["wretr"] or 0) for row in stats.values())
    redispatched = sum(int(row["wredis"] or 0) for row in stats.values())
    report(
        capsys,
        f"rolling restart of {REPLICAS} replicas under load: {served} requests answered 2xx, "
        f"{failed} failed; per replica, seconds from podman stop to DOWN in HAProxy / "
        "exited / UP again: "
        + ", ".join(f"{d:.1f} / {e:.1f} / {u:.1f}" for d, e, u in times.values())
        + f"; HAProxy retries {retried}, redispatches {redispatched}",
    )
    assert served > 0 and set(statuses) == {200}, statuses
    assert errors == {}, errors
    assert failed == 0
    # HAProxy never sent a request to a replica that had stopped listening: without the
    # drain, its retries would hide the refused connections from the client (measured:
    # with DRAIN_DELAY=0, 0 failed but 52 redispatched), so they are counted here.
    assert (retried, redispatched) == (0, 0), stats
    # Every replica served again after its restart.
    for replica in replicas:
        assert get(replica.base + "/healthz")[0] == 200


def test_prometheus_sums_planted_mismatches_over_replicas(
    replicas: list[Replica],
    balancer: Balancer,
    prometheus: Prometheus,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One request at a time: each shadow comparison finishes long before the front's
    # bound on comparisons in flight could drop one.
    for index in range(PLANTED + MATCHING):
        path = "/shadowed/1000" if index < PLANTED else "/shadowed/100"
        status, _, body = get(balancer.base + path, timeout=10)
        assert status == 200, body
    mismatch = 'sum(rustpath_front_shadow_total{kernel="shadowed",outcome="mismatch"})'
    match = 'sum(rustpath_front_shadow_total{kernel="shadowed",outcome="match"})'
    deadline = time.monotonic() + 60
    while (found := prometheus.scalar(mismatch)) != PLANTED or (
        prometheus.scalar(match) != MATCHING
    ):
        assert time.monotonic() < deadline, f"Prometheus sums {found}, not {PLANTED}"
        time.sleep(0.5)
    per_replica = {
        str(series["metric"]["instance"]): float(series["value"][1])  # type: ignore[index]
        for series in prometheus.query(
            'sum by (instance) (rustpath_front_shadow_total{kernel="shadowed",outcome="mismatch"})'
        )
    }
    report(
        capsys,
        f"Prometheus: {mismatch} = {PLANTED} planted; per replica "
        + ", ".join(f"{instance} {value:g}" for instance, value in sorted(per_replica.items())),
    )
    # Round robin spread them: every replica counted some, none counted them all.
    assert len(per_replica) == REPLICAS and all(
        0 < value < PLANTED for value in per_replica.values()
    ), per_replica


def kube_manifest(image: str, name: str, port: int) -> str:
    """deploy/kubernetes's ConfigMap and Deployment as one replica of ``image`` on a
    loopback port, under names of this test's own."""
    manifests = ROOT / "deploy" / "kubernetes"
    configmap = (manifests / "configmap.yaml").read_text()
    deployment = (manifests / "deployment.yaml").read_text()
    replacements = {
        "  replicas: 3\n": "  replicas: 1\n",
        "image: flask-rustpath:0.1.0": f"image: {image}",
        "imagePullPolicy: IfNotPresent": "imagePullPolicy: Never",
        "              containerPort: 8000\n": (
            "              containerPort: 8000\n"
            "              hostIP: 127.0.0.1\n"
            f"              hostPort: {port}\n"
        ),
        "  name: flask-rustpath\n  labels": f"  name: {name}\n  labels",
        "- name: tmp\n": f"- name: {name}-tmp\n",
        "configMapRef:\n                name: flask-rustpath": (
            f"configMapRef:\n                name: {name}"
        ),
    }
    both = f"{configmap}---\n{deployment}"
    for old, new in replacements.items():
        assert old in both, old
        both = both.replace(old, new)
    return both


def test_kube_play_runs_the_manifests(image: str, tmp_path: Path) -> None:
    """One replica of deploy/kubernetes under ``podman kube play``: it answers, as the
    non-root user on a read-only root filesystem, with the ConfigMap's settings, and
    drains on SIGTERM for the ConfigMap's DRAIN_DELAY."""
    need_tools()
    if shutil.which("catatonit") is None:
        support.missing(
            "catatonit not found (podman's pause container): apt-get install catatonit"
        )
    name = f"rpscale-kube-{secrets.token_hex(3)}"
    port = free_port()
    manifest = tmp_path / "play.yaml"
    manifest.write_text(kube_manifest(image, name, port))
    # kube play has no --ulimit: the ones our machines need come from a containers.conf.
    conf = tmp_path / "containers.conf"
    limits = ", ".join(
        f'"{value}"' for flag, value in itertools.pairwise(RUN_FLAGS) if flag == "--ulimit"
    )
    conf.write_text(f"[containers]\ndefault_ulimits = [{limits}]\n")
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    replica = Replica(f"{name}-pod-0-app", port)

    def kube(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "kube", *args],
            capture_output=True, text=True, timeout=180, env=env, check=False,
        )  # fmt: skip

    try:
        played = kube("play", str(manifest))
        assert played.returncode == 0, played.stdout + played.stderr
        wait_healthy(replica)
        status, _, body = get(replica.base + "/rust/sum_of_primes/100000")
        assert (status, json.loads(body)) == (200, {"result": 454396537})
        inspect = json.loads(podman("inspect", replica.name).stdout)[0]
        assert inspect["Config"]["User"] == "10001:10001", inspect["Config"]["User"]
        assert inspect["HostConfig"]["ReadonlyRootfs"] is True
        environment = set(inspect["Config"]["Env"])
        assert {"DRAIN_DELAY=5", "RUSTPATH_BACKEND=rust"} <= environment, environment
        podman("kill", "--signal", "TERM", replica.name)
        deadline = time.monotonic() + 2
        while (health := get(replica.base + "/healthz", timeout=5))[0] == 200:
            assert time.monotonic() < deadline, "still 200 after SIGTERM"
            time.sleep(0.05)
        assert (health[0], json.loads(health[2])["status"]) == (503, "draining"), health
        assert get(replica.base + "/hello", timeout=5)[::2] == (200, b"Hello, World!")
        # Then it stops as the image always did. (The pod's restartPolicy, Always for a
        # Deployment, starts it again: the log says what happened.)
        deadline = time.monotonic() + 60
        while "Shutting down: Master" not in (log := logs(replica.name)):
            assert time.monotonic() < deadline, log
            time.sleep(0.5)
        assert log.index("draining: /healthz answers 503 for 5 s") < log.index("stopping:"), log
        assert "Traceback" not in log, log
    finally:
        down = kube("down", str(manifest))
        assert down.returncode == 0, down.stdout + down.stderr
