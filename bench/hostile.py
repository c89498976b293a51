"""The front under a burst and under many connections (issue #24), against gunicorn
alone and nginx in front of gunicorn, on loopback.

- **burst**: ``--connections`` connections each send one ``GET /hello`` at once (one
  asyncio client); reported per server: answered, errors, and the time until the last
  answer, best and worst of ``--rounds`` rounds (the servers alternate).
- **rss**: the ``flask rustpath serve`` process's resident memory (the front runs in
  it) idle, then with ``--idle`` keep-alive connections open that each made one
  request, then after ``--big`` of them asked for a 30 MB response they do not read
  (buffered in temporary files: 30 MB of disk each).

Run as ``python -m bench.hostile`` (nginx is used when ``nginx`` is on PATH). Every
load is bounded; all servers are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from . import launch
from .server import REPO_ROOT

APP = "tests.apps.front_hostile:create_app()"
WORKERS, THREADS = 2, 4


async def _one(port: int, started: float, done: list[float], errors: list[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
        if answer.startswith(b"HTTP/1.1 200 "):
            done.append(time.monotonic() - started)
        else:
            errors.append(answer[:12].decode("latin-1") or "closed")
    except OSError as exc:
        errors.append(type(exc).__name__)


def burst(port: int, connections: int, bound_s: float = 120) -> tuple[int, int, float]:
    """Answered, errors, and seconds until the last answer."""
    done: list[float] = []
    errors: list[str] = []

    async def run() -> None:
        started = time.monotonic()
        tasks = [_one(port, started, done, errors) for _ in range(connections)]
        await asyncio.wait_for(asyncio.gather(*tasks), bound_s)

    asyncio.run(run())
    return len(done), len(errors), max(done, default=float("nan"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def nginx(upstream_port: int, scratch: Path) -> Iterator[int]:
    """nginx (1 worker, upstream keep-alive) in front of gunicorn on ``upstream_port``."""
    port = launch.free_port()
    conf = scratch / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {scratch}/body;
  proxy_temp_path {scratch}/proxy;
  fastcgi_temp_path {scratch}/fastcgi;
  uwsgi_temp_path {scratch}/uwsgi;
  scgi_temp_path {scratch}/scgi;
  upstream app {{ server 127.0.0.1:{upstream_port}; keepalive {WORKERS * THREADS}; }}
  server {{
    listen 127.0.0.1:{port} backlog=2048;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""
    )
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off;"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start")
            time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--big", type=int, default=50, help="of them asking for 30 MB")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = {"WEB_CONCURRENCY": str(WORKERS), "GUNICORN_THREADS": str(THREADS)}
    env_quiet = {**env, "GUNICORN_ACCESSLOG": ""}
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        front = stack.enter_context(
            launch.front(
                env_quiet,
                scratch / "front.log",
                app=APP,
                workers=WORKERS,
                threads=THREADS,
                args=["--no-access-log"],
                cwd=REPO_ROOT,
                ready_path="/healthz",
            )
        )
        alone = stack.enter_context(
            launch.gunicorn(
                {**env_quiet, "GUNICORN_APP": APP},
                scratch / "gunicorn.log",
                cwd=REPO_ROOT,
                ready_path="/hello",
            )
        )
        servers = {"front": _port(front.base), "gunicorn alone": _port(alone)}
        if shutil.which("nginx"):
            behind = stack.enter_context(
                launch.gunicorn(
                    {**env_quiet, "GUNICORN_APP": APP},
                    scratch / "gunicorn-nginx.log",
                    cwd=REPO_ROOT,
                    ready_path="/hello",
                )
            )
            servers["nginx + gunicorn"] = stack.enter_context(nginx(_port(behind), scratch))
        print(
            f"burst: {options.connections} connections x one GET /hello, "
            f"{options.rounds} rounds, {WORKERS} workers x {THREADS} threads"
        )
        results: dict[str, list[tuple[int, int, float]]] = {name: [] for name in servers}
        for _ in range(options.rounds):
            for name, port in servers.items():
                burst(port, 50)  # warm: workers imported, pools open
                results[name].append(burst(port, options.connections))
                time.sleep(1)
        for name, rounds in results.items():
            answered = min(r[0] for r in rounds)
            errors = max(r[1] for r in rounds)
            lasts = sorted(r[2] for r in rounds)
            print(
                f"  {name:18} answered {answered}/{options.connections} (worst round), "
                f"errors {errors}, last answer after {lasts[0]:.2f}-{lasts[-1]:.2f} s"
            )
        pid = front.process.pid
        idle_rss = rss_kib(pid)
        sockets = []
        try:
            for _ in range(options.idle):
                s = socket.create_connection(("127.0.0.1", _port(front.base)), timeout=30)
                s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                sockets.append(s)
            for s in sockets:
                s.recv(65536)
            time.sleep(1)
            open_rss = rss_kib(pid)
            for s in sockets[: options.big]:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(15)
            big_rss = rss_kib(pid)
            status, _ = launch.fetch(front.base + "/hello", timeout=30)
        finally:
            for s in sockets:
                s.close()
        print(
            f"front process RSS: idle {idle_rss / 1024:.0f} MiB; "
            f"{options.idle} keep-alive connections {open_rss / 1024:.0f} MiB; "
            f"{options.big} of them then asking for 30 MB they do not read "
            f"{big_rss / 1024:.0f} MiB "
            f"(/hello meanwhile: {status})"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    main()
