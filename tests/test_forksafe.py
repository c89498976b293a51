"""A forked child (a gunicorn worker) never inherits a lock held by a parent's thread."""

from __future__ import annotations

import os
import threading
import warnings

import pytest
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.state import get_state


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_locks_held_by_a_parent_thread_at_fork_are_free_in_the_child() -> None:
    app = Flask(__name__)
    RustPath(app)
    state = get_state(app)
    owners = [state, state.metrics, state.logs, state.shadow]
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        # Like the metrics flusher caught mid-flush when gunicorn forks a worker.
        for owner in owners:
            owner._lock.acquire()
        held.set()
        release.wait(30)
        for owner in owners:
            owner._lock.release()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on 3.12+
        pid = os.fork()
    if pid == 0:  # the child: every lock must be takeable at once
        free = all(owner._lock.acquire(timeout=5) for owner in owners)
        os._exit(0 if free else 1)
    release.set()
    thread.join(30)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
