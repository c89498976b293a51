"""Start a real server (gunicorn with the shipped config) on a free loopback port, and
always stop it.

``flask rustpath bench`` serves the app this way for a bounded time, with the server's
log kept in a file (a pipe nobody reads would stall gunicorn's access log).
:func:`serve_process` runs any server command the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60
# gunicorn with the shipped config, by the name gunicorn loads it from.
GUNICORN_COMMAND = (
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    "python:flask_rustpath.serving.gunicorn_conf",
)


@dataclass(frozen=True)
class Running:
    """A server that answers: its base URL and its (master) process."""

    base: str
    process: subprocess.Popen[bytes]


class ServerError(RuntimeError):
    """The server exited or did not answer in time; carries the tail of its log."""


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (free for a moment, not reserved)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str, timeout: float = 30) -> tuple[int, bytes]:
    """GET ``url``: status and body, also for HTTP error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def gunicorn(
    env: Mapping[str, str],
    log_path: Path,
    *,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    ready_path: str = "/",
) -> Iterator[str]:
    """Serve with ``gunicorn -c python:flask_rustpath.serving.gunicorn_conf *args`` until the block
    exits; yield the base URL once it answers HTTP at ``ready_path`` (any status).

    ``env`` is laid over this process's environment (``GUNICORN_APP``,
    ``WEB_CONCURRENCY``, …); the bind address is always 127.0.0.1 on a free port, and
    ``cwd`` (default: the current directory) is put on ``PYTHONPATH`` so the app imports.
    """
    port = free_port()
    with serve_process(
        "gunicorn",
        [*GUNICORN_COMMAND, *args],
        {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        log_path,
        port=port,
        cwd=cwd,
        ready_path=ready_path,
    ) as running:
        yield running.base


@contextlib.contextmanager
def serve_process(
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    *,
    port: int,
    cwd: Path | None,
    ready_path: str,
) -> Iterator[Running]:
    """Start ``command`` (a server bound to 127.0.0.1:``port``) in its own process group
    with its output in ``log_path``; yield it once it answers, always stop it."""
    cwd = cwd or Path.cwd()
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), environ.get("PYTHONPATH")]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own group, so a stop can reach workers that outlive their master.
            start_new_session=True,
        )
    running = Running(f"http://127.0.0.1:{port}", process)
    try:
        _wait_until_ready(name, process, running.base + ready_path, log_path)
        yield running
    finally:
        _stop(process)


def _wait_until_ready(
    name: str, process: subprocess.Popen[bytes], url: str, log_path: Path
) -> None:
    """Any HTTP answer means the workers are up; whether it is a 200 is the rows' business."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with {process.returncode}:\n{log_tail(log_path)}")
        try:
            fetch(url, timeout=2)
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerError(
                f"{name} did not answer within {START_TIMEOUT_S} s:\n{log_tail(log_path)}"
            )
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the master (it stops its workers), SIGKILL only if that hangs; then
    SIGKILL whatever of its process group is left (a worker its master left behind)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
