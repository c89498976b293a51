"""The demo, but its gunicorn workers take a long time to start: for a stop that
arrives while ``flask rustpath serve`` waits for them."""

from __future__ import annotations

import sys
import time

from flask import Flask

from flask_rustpath.demo import create_app as create_demo

WORKER_START_S = 60


def create_app() -> Flask:
    if "gunicorn.arbiter" in sys.modules:  # a gunicorn worker, not the serve process
        time.sleep(WORKER_START_S)
    return create_demo()
