"""The Docker image under test, built once per test session with podman and shared by
the tests that run it (tests/test_container.py, tests/test_scale.py): how podman builds
and runs containers on our CI machines.

Needs root, podman, runc and debootstrap (CI installs them). No container registry is
reachable in CI, so the Dockerfile's default base images are first made locally by
``tests/container/make_base_images.sh`` (a few minutes once; later runs find them in
podman's storage, and the build reuses its layer and cargo caches).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import support

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


def unusable() -> str | None:
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


def build_image() -> str:
    """Make the base images if needed and build this checkout's image, once per test
    session (the ``image`` fixture in conftest.py); its tag."""
    reason = unusable()
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
    return IMAGE
