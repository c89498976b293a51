"""Describe the machine and the code a run measured, so numbers are never quoted bare.

Only facts that change results go in: CPU, cores, memory, versions, and which build of
the native module and which commit were measured (the kernel is rebuilt often). No
paths, user or host names.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .plan import usable_cores
from .server import REPO_ROOT

# Python packages whose versions the report states.
PACKAGES = ("flask", "gunicorn", "granian", "numpy", "matplotlib")


def _first_line(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def _proc_field(path: str, field: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == field:
                return value.strip()
    except OSError:
        return None
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _package(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def native_module() -> dict[str, Any] | None:
    """Which build of ``flask_rustpath._native`` is on disk: name, size, hash and mtime."""
    candidates = sorted((REPO_ROOT / "flask_rustpath").glob("_native*.so"))
    if not candidates:
        return None
    path = candidates[0]
    try:
        data = path.read_bytes()
        mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return None
    return {
        "file": path.name,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest()[:16],
        "mtime": mtime.isoformat(timespec="seconds"),
    }


def git_state() -> dict[str, Any]:
    commit = _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    changed = [line[3:] for line in status.stdout.splitlines()] if status.returncode == 0 else []
    return {"commit": commit, "modified": changed}


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine skews every scaling number."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def describe() -> dict[str, Any]:
    """The machine, toolchain and code under test."""
    mem_kib = _proc_field("/proc/meminfo", "MemTotal")
    dpkg_hey = _first_line(["dpkg-query", "-W", "-f", "${Version}", "hey"])
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "logical_cpus": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "os": _os_name(),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "rustc": _first_line(["rustc", "--version"]),
        "gxx": _first_line(["g++", "--version"]),
        "hey": f"hey {dpkg_hey} (Debian package)" if dpkg_hey else None,
        "packages": {name: _package(name) for name in PACKAGES},
        "load_average_1min": load_average(),
        "native_module": native_module(),
        "git": git_state(),
    }
