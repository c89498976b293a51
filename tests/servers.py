"""Start real gunicorn on a loopback port for a test, and always stop it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@contextlib.contextmanager
def gunicorn(
    *args: str, env: dict[str, str] | None = None, ready_path: str = "/healthz"
) -> Iterator[str]:
    """Run ``gunicorn -c python:flask_rustpath.gunicorn_conf *args``; yield its base URL."""
    port = free_port()
    environ = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", **(env or {})}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full one
    # would stall gunicorn's access log.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:flask_rustpath.gunicorn_conf", *args],
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                    raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{output}")
                try:
                    if get(base + ready_path, timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("gunicorn did not become ready within 60 s")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
