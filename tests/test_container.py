"""The Docker image: build this repository's Dockerfile with podman, run it, use it over HTTP.

The image serves in two modes, and every test of a running server runs in both: ``front``
(the default: ``flask rustpath serve``, the Rust front with gunicorn behind it) and
``gunicorn`` (``SERVER=gunicorn``: gunicorn alone, as before the front). One image build
serves them all (tests/images.py builds it once per test session).

Needs root, podman, runc and debootstrap (CI installs them). No container registry is
reachable in CI, so the Dockerfile's default base images are first made locally by
``tests/container/make_base_images.sh`` (a few minutes once; later runs find them in
podman's storage, and the build reuses its layer and cargo caches). Skipped when podman is
missing or cannot run, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from .images import BUILD_FLAGS, MB, MEASURED, ROOT, RUN_FLAGS, podman
from .servers import free_port, get

pytestmark = [pytest.mark.container, pytest.mark.slow]

# How to ask for each mode: the front is the default, so it is asked for by saying nothing.
MODES = {"front": {}, "gunicorn": {"SERVER": "gunicorn"}}


@contextlib.contextmanager
def running(image: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Run ``image`` with port 8000 on a loopback port; yield (container name, base URL)."""
    name = f"rustpath-test-{secrets.token_hex(4)}"
    port = free_port()
    env_flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
    base = f"http://127.0.0.1:{port}"
    try:
        # No healthcheck timers (they need systemd); the tests run the check themselves.
        podman(
            "run", "--detach", "--name", name, *RUN_FLAGS, "--health-interval=disable",
            "--publish", f"127.0.0.1:{port}:8000", *env_flags, image,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if get(base + "/healthz", timeout=2)[0] == 200:
                    break
            if podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip() != "true":
                raise AssertionError(f"the container exited:\n{logs(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer on {base}/healthz within 60 s:\n{logs(name)}")
            time.sleep(0.3)
        yield name, base
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def logs(name: str) -> str:
    result = podman("logs", name, check=False)
    return result.stdout + result.stderr


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``: status, headers (names in lower case: the front sends them so, gunicorn
    capitalized) and body."""
    status, headers, body = get(url)
    return status, {name.lower(): value for name, value in headers.items()}, body


class Served(NamedTuple):
    mode: str
    name: str  # the container's
    base: str  # URL


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Show a measurement in the test run's output, past pytest's capturing."""
    with capsys.disabled():
        print(f"\n[container] {line}", flush=True)


@pytest.fixture(scope="module", params=list(MODES))
def served(image: str, request: pytest.FixtureRequest) -> Iterator[Served]:
    """The image run in each mode, with gunicorn and the app configured through the
    environment."""
    env = {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2", "RUSTPATH_BACKEND": "python"}
    with running(image, {**env, **MODES[request.param]}) as (name, base):
        yield Served(request.param, name, base)


def test_healthz(served: Served) -> None:
    status, headers, body = fetch(served.base + "/healthz")
    assert status == 200, body
    health = json.loads(body)
    if served.mode == "front":  # the front's own answer, with the app's inside
        assert health["status"] == "ok" and health["app"] == {"status": "ok"}, health
        assert health["front"]["status"] == "ok", health
        assert "sum_of_primes" in health["front"]["native_kernels"], health
        assert "server" not in headers, headers
    else:  # the app's own
        assert health == {"status": "ok"}
        assert headers["server"].startswith("gunicorn"), headers


@pytest.mark.parametrize("side", ["rust", "python"])
def test_sum_of_primes_on_both_sides(served: Served, side: str) -> None:
    status, headers, body = fetch(f"{served.base}/{side}/sum_of_primes/100000")
    assert status == 200, body
    assert json.loads(body) == {"result": 454396537}
    assert headers["x-rustpath-backend"] == side
    # The front answers the Rust side itself and proxies the Python side to gunicorn,
    # whose Server header comes back with the answer.
    through_gunicorn = served.mode == "gunicorn" or side == "python"
    assert headers.get("server", "").startswith("gunicorn") == through_gunicorn, headers


def test_other_views_are_served_by_the_app(served: Served) -> None:
    status, headers, body = fetch(served.base + "/hello")
    assert (status, body) == (200, b"Hello, World!")
    assert headers["server"].startswith("gunicorn"), headers  # proxied by the front


def test_front_metrics_follow_the_apps(served: Served) -> None:
    fetch(served.base + "/rust/sum_of_primes/10")
    fetch(served.base + "/hello")
    status, _, body = fetch(served.base + "/rustpath/metrics")
    text = body.decode()
    if served.mode == "front":
        assert status == 200, text
        assert 'rustpath_front_requests_total{handler="sum_of_primes",status="200"}' in text
        assert 'rustpath_front_requests_total{handler="proxied",status="200"}' in text
    else:
        assert "rustpath_front_" not in text, text


def test_environment_configures_gunicorn_and_the_app(served: Served) -> None:
    _, headers, _ = fetch(served.base + "/sum_of_primes/1000")
    assert headers["x-rustpath-backend"] == "python"  # RUSTPATH_BACKEND=python
    assert logs(served.name).count("Booting worker") == 1  # WEB_CONCURRENCY=1


PROCESSES = textwrap.dedent("""
    import glob, json, os, pwd
    procs = []
    for status in glob.glob("/proc/[0-9]*/status"):
        pid = int(status.split("/")[2])
        if pid == os.getpid():
            continue
        with open(status) as f:
            fields = dict(line.split(":", 1) for line in f)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\\0", b" ").decode()
        fds = []
        for fd in glob.glob(f"/proc/{pid}/fd/*"):
            try:
                fds.append(os.readlink(fd))
            except OSError:
                pass
        procs.append({"pid": pid, "ppid": int(fields["PPid"]), "cmd": cmd, "fds": fds,
                      "uid": int(fields["Uid"].split()[0])})
    user = pwd.getpwuid(os.getuid())
    print(json.dumps({"procs": procs, "home": user.pw_dir,
                      "home_owner": os.stat(user.pw_dir).st_uid}))
""")


def test_server_processes(served: Served) -> None:
    """The server is PID 1 (no shell left to swallow SIGTERM), nothing runs as root, and
    GUNICORN_CMD_ARGS puts the workers' heartbeat files on /dev/shm in both modes."""
    found = json.loads(podman("exec", served.name, "python3", "-c", PROCESSES).stdout)
    procs = {proc["pid"]: proc for proc in found["procs"]}
    gunicorns = [proc for proc in procs.values() if "gunicorn" in proc["cmd"]]
    assert len(gunicorns) == 2, found  # the master and one worker
    master = next(proc for proc in gunicorns if procs.get(proc["ppid"]) not in gunicorns)
    if served.mode == "front":
        assert " rustpath serve " in procs[1]["cmd"], found
        assert master["ppid"] == 1, found  # the front started gunicorn and stops it
    else:
        assert master["pid"] == 1, found
    assert 0 not in {proc["uid"] for proc in procs.values()}, found
    assert found["home_owner"] == procs[1]["uid"], found
    worker = next(proc for proc in gunicorns if proc is not master)
    assert any(fd.startswith("/dev/shm/") for fd in worker["fds"]), worker


def test_image_holds_no_toolchain_and_no_source(image: str) -> None:
    probe = textwrap.dedent("""
        import json, os, shutil, flask_rustpath
        print(json.dumps({
            "tools": [t for t in ("cargo", "rustc", "rustup", "gcc", "cc", "maturin")
                      if shutil.which(t)],
            "paths": [p for p in ("/src", "/wheels", "/usr/local/cargo", "/usr/local/rustup")
                      if os.path.exists(p)],
            "package": flask_rustpath.__file__,
        }))
    """)
    found = json.loads(podman("run", "--rm", *RUN_FLAGS, image, "python3", "-c", probe).stdout)
    assert found["tools"] == [] and found["paths"] == [], found
    assert "-packages/flask_rustpath/" in found["package"], found  # installed from the wheel


def test_healthcheck(image: str, served: Served) -> None:
    config = json.loads(
        podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image).stdout
    )
    assert config["Test"][:2] == ["CMD", "python3"], config  # no curl in the image
    result = podman("healthcheck", "run", served.name, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("mode", list(MODES))
def test_healthcheck_fails_on_a_bad_answer(image: str, mode: str) -> None:
    with running(image, {"HEALTHCHECK_PATH": "/no-such-page", **MODES[mode]}) as (name, _):
        result = podman("healthcheck", "run", name, check=False)
    assert result.returncode != 0 and "unhealthy" in result.stdout, result


def test_an_unknown_server_is_refused(image: str) -> None:
    result = podman("run", "--rm", *RUN_FLAGS, "--env=SERVER=nginx", image, check=False)
    assert result.returncode == 64, result
    assert "SERVER must be front or gunicorn, not 'nginx'" in result.stderr, result


@pytest.mark.parametrize("mode", list(MODES))
def test_defaults_and_graceful_stop(
    image: str, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM (``podman stop``) reaches the server as PID 1, which drains for the
    image's DRAIN_DELAY (5 s), lets the request in flight finish and stops everything
    cleanly: gunicorn alone, or the front and then gunicorn."""
    with running(image, MODES[mode]) as (name, base):
        _, headers, _ = fetch(base + "/sum_of_primes/1000")
        assert headers["x-rustpath-backend"] == "rust"
        # A request of a second or two (Python trial division), in flight during the stop;
        # through the front, it is proxied to gunicorn.
        answers: list[tuple[int, bytes]] = []
        slow = threading.Thread(
            target=lambda: answers.append(fetch(base + "/python/sum_of_primes/200000")[::2])
        )
        slow.start()
        time.sleep(0.5)
        started = time.monotonic()
        podman("stop", "--time", "20", name, timeout=60)
        stopped_in = time.monotonic() - started
        slow.join(timeout=30)
        state = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        log = logs(name)
    report(capsys, f"{mode}: podman stop took {stopped_in:.1f} s")
    assert log.count("Booting worker") == 2, log  # WEB_CONCURRENCY's default
    assert answers == [(200, b'{"result":1709600813}\n')], (answers, log)
    # The drain (5 s) and gunicorn's graceful timeout (8 s) end before podman kills at
    # 20 s, which would exit with 137.
    assert stopped_in < 15, log
    assert state == "0", log
    if mode == "front":
        assert "[flask-rustpath front pid 1] listening on http://0.0.0.0:8000" in log, log
        assert "[flask-rustpath front pid 1] stopping" in log, log
        # The front stops accepting first; it stops gunicorn once it has drained.
        assert log.index("[flask-rustpath front pid 1] stopping") < log.index(
            "Handling signal: term"
        ), log
        assert "[flask-rustpath front pid 1] draining: /healthz answers 503 for 5 s" in log, log
    else:
        assert "Draining: /healthz answers 503 for 5.0 s" in log, log
    assert "Handling signal: term" in log and "Shutting down: Master" in log, log
    assert "Traceback" not in log and "[ERROR]" not in log, log


def test_image_runs_this_checkout(image: str) -> None:
    """The package in the image is this checkout's: a build cache that reused the install
    of an older wheel would test old code."""
    probe = textwrap.dedent("""
        import hashlib, json, pathlib, flask_rustpath
        root = pathlib.Path(flask_rustpath.__file__).parent
        print(json.dumps({str(path.relative_to(root)): hashlib.sha256(path.read_bytes())
                          .hexdigest() for path in root.rglob("*.py")}))
    """)
    found = json.loads(podman("run", "--rm", *RUN_FLAGS, image, "python3", "-c", probe).stdout)
    package = ROOT / "flask_rustpath"
    here = {
        str(path.relative_to(package)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in package.rglob("*.py")
    }
    stale = sorted(name for name in {*here, *found} if here.get(name) != found.get(name))
    assert not stale, f"the image's package differs from this checkout in {stale}"


OWN_APP = """
from flask import Flask
from flask_rustpath import RustPath, builtins

rustpath = RustPath()
rustpath.route("/primes/<int:n>", builtins.sum_of_primes)
app = Flask(__name__)
rustpath.init_app(app)


@app.get("/healthz")
def healthz():
    return {"status": "mine"}
"""


def test_own_app_on_this_image(image: str, tmp_path: Path) -> None:
    """The image as a base: copy an app in, name it in GUNICORN_APP."""
    (tmp_path / "own_app.py").write_text(OWN_APP)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image}\nCOPY own_app.py ./\nENV GUNICORN_APP=own_app:app\n"
    )
    own = f"{image}-own-app"
    podman("build", *BUILD_FLAGS, "-t", own, str(tmp_path), timeout=600)
    try:
        with running(own) as (_, base):  # through the front: its health, with the app's
            health = json.loads(get(base + "/healthz")[2])
            assert (health["status"], health["app"]) == ("mine", {"status": "mine"}), health
            # The app's own hot route, answered by the front natively.
            status, headers, body = fetch(base + "/rust/primes/100000")
            assert (status, json.loads(body)) == (200, {"result": 454396537})
            assert "server" not in headers, headers
    finally:
        podman("rmi", own, check=False)


def test_image_size(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Report the image's size, and that of our layers over the Python base image."""
    python_base = next(
        line.split("=", 1)[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("ARG PYTHON_IMAGE=")
    )
    total = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    base = int(podman("image", "inspect", "--format", "{{.Size}}", python_base).stdout)
    history = podman("history", "--format", "{{.Size}}\t{{.CreatedBy}}", image).stdout
    for line in MEASURED.values():
        report(capsys, line)
    report(
        capsys,
        f"image {total / MB:.0f} MB, of which our layers {(total - base) / MB:.1f} MB "
        f"over {python_base} ({base / MB:.0f} MB here):\n"
        + "\n".join(f"    {line[:110]}" for line in history.splitlines()),
    )
    # Flask, gunicorn and our wheel are about 10 MB; a toolchain or a source tree that
    # leaked into the runtime stage would be hundreds.
    assert total - base < 40 * MB
