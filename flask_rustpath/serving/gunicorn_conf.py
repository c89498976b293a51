"""gunicorn settings for serving a flask-rustpath app.

Use with ``gunicorn -c python:flask_rustpath.serving.gunicorn_conf [APP]``; without APP it
serves ``$GUNICORN_APP`` or the demo. Threaded workers (gthread) suit hot routes:
Rust kernels release the GIL, so threads of one worker compute in parallel.

Environment: ``GUNICORN_BIND`` (default ``127.0.0.1:8000``), ``WEB_CONCURRENCY``
(workers, default 2), ``GUNICORN_THREADS`` (default 4), ``GUNICORN_TIMEOUT``
(seconds, default 60), ``GUNICORN_GRACEFUL_TIMEOUT`` (seconds, default 8),
``GUNICORN_KEEPALIVE`` (seconds, default 2), ``GUNICORN_ACCESSLOG`` (where the access
log goes, default ``-`` for stdout; empty for none),
``GUNICORN_APP``, ``GUNICORN_FORWARDER_HEADERS`` (default none);
``GUNICORN_DRAIN_DELAY`` (seconds, default 0) and ``GUNICORN_HEALTH_PATH`` (default
``/healthz``): on SIGTERM, keep serving that long with the health path answering 503
``draining``, then stop gracefully (a second SIGTERM, or SIGINT, stops at once);
``PROMETHEUS_MULTIPROC_DIR`` (an empty directory) to aggregate Prometheus metrics across
workers.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

wsgi_app = os.environ.get("GUNICORN_APP", "flask_rustpath.demo:create_app()")
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Below `docker stop`'s default 10 s, so a plain stop lets requests in flight finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "8"))
# Seconds an idle keep-alive connection stays open (gunicorn's default is 2; behind the
# Rust front, which closes its idle connections first, `flask rustpath serve` sets 60).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "2"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # "-": stdout
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# gunicorn takes SCRIPT_NAME and PATH_INFO from request headers sent from loopback (a
# local proxy); a client could then send a SCRIPT_NAME the path does not start with and
# get a 500 from gunicorn itself. Trust no such header unless a proxy that strips it
# from clients is configured to set it (GUNICORN_FORWARDER_HEADERS=SCRIPT_NAME).
forwarder_headers = os.environ.get("GUNICORN_FORWARDER_HEADERS", "")
drain_delay = float(os.environ.get("GUNICORN_DRAIN_DELAY") or "0")  # empty: no drain
health_path = os.environ.get("GUNICORN_HEALTH_PATH", "/healthz")
# While this file exists, the workers answer the health path with 503 draining. The
# master creates it on SIGTERM; workers inherit its name through the environment.
DRAIN_FLAG_ENV = "FLASK_RUSTPATH_DRAIN_FLAG"
DRAINING_BODY = b'{"status":"draining"}\n'


def when_ready(server: Arbiter) -> None:
    """With a drain delay: the first SIGTERM marks the server draining and stops it
    gracefully only once the delay has passed."""
    if drain_delay <= 0:
        return
    flag_dir = tempfile.mkdtemp(prefix="rustpath-drain-")
    flag = os.path.join(flag_dir, "draining")
    os.environ[DRAIN_FLAG_ENV] = flag
    graceful_stop = server.handle_term

    def handle_term() -> None:
        if os.path.exists(flag):  # the second SIGTERM (or the timer's): stop now
            graceful_stop()  # raises StopIteration, which ends the arbiter's loop
            return
        with open(flag, "w"):
            pass
        if server.log is not None:
            server.log.info(
                "Draining: %s answers 503 for %s s, then stopping", health_path, drain_delay
            )
        timer = threading.Timer(drain_delay, os.kill, (os.getpid(), signal.SIGTERM))
        timer.daemon = True
        timer.start()

    # The arbiter looks its signal handlers up by name on each signal.
    server.handle_term = handle_term  # type: ignore[method-assign]


def on_exit(server: Arbiter) -> None:
    flag = os.environ.pop(DRAIN_FLAG_ENV, None)
    if flag:
        shutil.rmtree(os.path.dirname(flag), ignore_errors=True)


def post_worker_init(worker: Worker) -> None:
    """With a drain delay: this worker answers the health path with 503 draining once
    the master has started to drain, and serves everything else as before."""
    flag = os.environ.get(DRAIN_FLAG_ENV)
    if not flag:
        return
    app = worker.wsgi

    def draining_health(
        environ: MutableMapping[str, Any],
        start_response: Callable[[str, Iterable[tuple[str, str]]], None],
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == health_path and os.path.exists(flag):
            start_response(
                "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(DRAINING_BODY))),
                ],
            )
            return [DRAINING_BODY]
        return app(environ, start_response)

    worker.wsgi = draining_health


def on_starting(server: Arbiter) -> None:
    """Behind ``flask rustpath serve``: stop when that process dies, even when it is
    killed with no chance to stop gunicorn itself (Linux only)."""
    parent = os.environ.get("FLASK_RUSTPATH_FRONT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != int(parent):  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def worker_exit(server: Arbiter, worker: Worker) -> None:
    """Write this worker's last queued metrics before it exits (they are otherwise
    written every half second by a background thread)."""
    from flask_rustpath.support.metrics import flush_all

    flush_all()


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Drop a dead worker's live gauges from Prometheus multiprocess files.

    Only matters with ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory per server
    start), which makes ``/rustpath/metrics`` report all workers together.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        try:
            from prometheus_client import multiprocess
        except ImportError:  # metrics are off without the client: nothing to clean
            return
        multiprocess.mark_process_dead(worker.pid)
