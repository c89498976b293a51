"""The Docker image: build this repository's Dockerfile with podman, run it, use it over HTTP.

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
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import support
from .servers import free_port, get

pytestmark = [pytest.mark.container, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
MAKE_BASE_IMAGES = ROOT / "tests" / "container" / "make_base_images.sh"
# One tag per checkout: two checkouts tested at once on one machine must not run each
# other's image (the layer and cargo caches are still shared between them).
IMAGE = f"localhost/flask-rustpath:test-{hashlib.sha256(bytes(ROOT)).hexdigest()[:8]}"
# How containers run on our CI machines: crun and systemd cgroups fail there, so runc and
# cgroupfs; the default ulimits are refused, so explicit ones.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
RUN_FLAGS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
# Build steps run as chroots; nothing is pulled; Docker's image format, as OCI's has no
# HEALTHCHECK. Trust what the host trusts (a TLS-inspecting proxy's CA, say) while pip and
# cargo download; the image itself keeps its own CA store.
BUILD_FLAGS = ["--isolation", "chroot", "--pull=never", "--format", "docker"]
if Path("/etc/ssl/certs").is_dir():
    BUILD_FLAGS += ["-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
MB = 1_000_000
MEASURED: dict[str, str] = {}  # times taken by the fixtures, reported by test_image_size


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited with {result.returncode}:\n"
            f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result


def _unusable() -> str | None:
    """Why podman cannot build and run images here, or None."""
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (debootstrap and rootful podman)"
    missing = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found: apt-get install podman runc debootstrap"
    info = subprocess.run(["podman", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"podman cannot run: {info.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = _unusable()
    if reason is not None:
        support.missing(f"container tests cannot run: {reason}")
    started = time.monotonic()
    base = subprocess.run(
        [str(MAKE_BASE_IMAGES), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert base.returncode == 0, f"making the base images failed:\n{base.stdout}{base.stderr}"
    if "making" in base.stdout:
        MEASURED["base"] = f"made base images in {time.monotonic() - started:.0f} s"
    started = time.monotonic()
    podman("build", *BUILD_FLAGS, "-t", IMAGE, str(ROOT), timeout=1800)
    MEASURED["build"] = f"podman build took {time.monotonic() - started:.0f} s"
    yield IMAGE


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


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Show a measurement in the test run's output, past pytest's capturing."""
    with capsys.disabled():
        print(f"\n[container] {line}", flush=True)


@pytest.fixture(scope="module")
def served(image: str) -> Iterator[tuple[str, str]]:
    """The image run with gunicorn and the app configured through the environment."""
    env = {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2", "RUSTPATH_BACKEND": "python"}
    with running(image, env) as container:
        yield container


def test_healthz(served: tuple[str, str]) -> None:
    status, _, body = get(served[1] + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


@pytest.mark.parametrize("side", ["rust", "python"])
def test_sum_of_primes_on_both_sides(served: tuple[str, str], side: str) -> None:
    status, headers, body = get(f"{served[1]}/{side}/sum_of_primes/100000")
    assert status == 200, body
    assert json.loads(body) == {"result": 454396537}
    assert headers["X-RustPath-Backend"] == side


def test_environment_configures_gunicorn_and_the_app(served: tuple[str, str]) -> None:
    name, base = served
    _, headers, _ = get(base + "/sum_of_primes/1000")
    assert headers["X-RustPath-Backend"] == "python"  # RUSTPATH_BACKEND=python
    assert logs(name).count("Booting worker") == 1  # WEB_CONCURRENCY=1


def test_server_runs_as_a_user_with_a_home(served: tuple[str, str]) -> None:
    probe = textwrap.dedent("""
        import glob, json, os, pwd
        procs = []
        for status in glob.glob("/proc/[0-9]*/status"):
            with open(status) as f:
                uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
            with open(status.replace("status", "cmdline"), "rb") as f:
                cmd = f.read().replace(b"\\0", b" ").decode()
            procs.append((int(status.split("/")[2]), uid, cmd))
        user = pwd.getpwuid(os.getuid())
        print(json.dumps({"procs": procs, "home": user.pw_dir,
                          "home_owner": os.stat(user.pw_dir).st_uid}))
    """)
    found = json.loads(podman("exec", served[0], "python3", "-c", probe).stdout)
    servers = {pid: uid for pid, uid, cmd in found["procs"] if "gunicorn" in cmd}
    assert len(servers) == 2 and 1 in servers, found  # the master is PID 1, one worker
    assert 0 not in servers.values(), found
    assert found["home_owner"] == servers[1], found


def test_image_holds_no_toolchain_and_no_source(served: tuple[str, str]) -> None:
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
    found = json.loads(podman("exec", served[0], "python3", "-c", probe).stdout)
    assert found["tools"] == [] and found["paths"] == [], found
    assert "-packages/flask_rustpath/" in found["package"], found  # installed from the wheel


def test_healthcheck(image: str, served: tuple[str, str]) -> None:
    config = json.loads(
        podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image).stdout
    )
    assert config["Test"][:2] == ["CMD", "python3"], config  # no curl in the image
    result = podman("healthcheck", "run", served[0], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_fails_on_a_bad_answer(image: str) -> None:
    with running(image, {"HEALTHCHECK_PATH": "/no-such-page"}) as (name, _):
        result = podman("healthcheck", "run", name, check=False)
    assert result.returncode != 0 and "unhealthy" in result.stdout, result


def test_defaults_and_graceful_stop(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM (``podman stop``) lets gunicorn finish the request in flight and exit cleanly."""
    with running(image) as (name, base):
        _, headers, _ = get(base + "/sum_of_primes/1000")
        assert headers["X-RustPath-Backend"] == "rust"
        # A request of a second or two (Python trial division), in flight during the stop.
        answers: list[tuple[int, bytes]] = []
        slow = threading.Thread(
            target=lambda: answers.append(get(base + "/python/sum_of_primes/200000")[::2])
        )
        slow.start()
        time.sleep(0.5)
        started = time.monotonic()
        podman("stop", "--time", "20", name, timeout=60)
        stopped_in = time.monotonic() - started
        slow.join(timeout=30)
        state = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        log = logs(name)
    report(capsys, f"podman stop took {stopped_in:.1f} s")
    assert log.count("Booting worker") == 2, log  # WEB_CONCURRENCY's default
    assert answers == [(200, b'{"result":1709600813}\n')], (answers, log)
    assert stopped_in < 15, log  # gunicorn's graceful timeout is 8 s; podman kills at 20 s
    assert state == "0", log
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
        with running(own) as (_, base):
            assert json.loads(get(base + "/healthz")[2]) == {"status": "mine"}
            status, _, body = get(base + "/rust/primes/100000")
            assert (status, json.loads(body)) == (200, {"result": 454396537})
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
