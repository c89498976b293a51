"""A small bounded executor for optional background work: never a backlog.

Used for shadow calls, which are optional by nature: when the queue is full a job is
dropped (and the caller counts it) instead of delaying responses or growing memory.
Threads are started lazily, and again in a forked child, where the parent's threads
do not exist.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from .forksafe import fork_safe_lock

log = logging.getLogger("flask_rustpath")

Job = Callable[[float], None]  # called with the seconds it waited in the queue


class BoundedExecutor:
    def __init__(self, workers: int, queue_size: int) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("shadow executor needs at least one worker and one queue slot")
        self.workers = workers
        self.queue_size = queue_size
        self._lock = fork_safe_lock(self)
        self._pid: int | None = None
        self._queue: queue.Queue[tuple[float, Job]] = queue.Queue(queue_size)
        self._active = 0  # jobs submitted and not yet finished, for tests and draining

    def submit(self, job: Job) -> bool:
        """Queue ``job``; ``False`` (nothing queued) when the queue is full."""
        self._ensure_started()
        with self._lock:
            self._active += 1
        try:
            self._queue.put_nowait((time.monotonic(), job))
        except queue.Full:
            with self._lock:
                self._active -= 1
            return False
        return True

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted job has finished; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._active == 0:
                    return True
            time.sleep(0.005)
        return False

    def _ensure_started(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            # A forked child inherits the queue but not the threads: start afresh.
            self._queue = queue.Queue(self.queue_size)
            self._active = 0
            for i in range(self.workers):
                threading.Thread(
                    target=self._work, name=f"rustpath-background-{i}", daemon=True
                ).start()
            self._pid = pid

    def _work(self) -> None:
        jobs = self._queue
        while True:
            queued_at, job = jobs.get()
            try:
                job(time.monotonic() - queued_at)
            except Exception:  # a background job must never take its thread down
                log.exception("background job failed")
            finally:
                with self._lock:
                    self._active -= 1
