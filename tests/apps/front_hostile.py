"""An app for probing the front with hostile clients: a large response, an echo of
what reached the app, and the demo's ``/hello`` and ``/healthz``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, request

from flask_rustpath import RustPath

BIG_BYTES = 30 * 1024 * 1024
rustpath = RustPath()


def create_app() -> Flask:
    app = Flask(__name__)
    rustpath.init_app(app)

    @app.get("/hello")
    def hello() -> str:
        return "Hello from Flask\n"

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return rustpath.health()

    @app.get("/big")
    def big() -> Response:
        """30 MB, written by the worker as fast as the socket takes it."""
        chunk = b"x" * (1024 * 1024)
        return Response((chunk for _ in range(BIG_BYTES // len(chunk))), mimetype="text/plain")

    @app.route("/echo", methods=["GET", "POST", "OPTIONS"])
    @app.route("/", methods=["GET", "OPTIONS"])
    def echo() -> dict[str, object]:
        """What reached the app: method, target, headers; and which worker answered."""
        return {
            "method": request.method,
            "uri": request.environ.get("RAW_URI", ""),
            "path": request.path,
            "headers": dict(request.headers),
            "pid": os.getpid(),
        }

    routed = app.wsgi_app

    def asterisk(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """``OPTIONS *`` has no route in Flask: answer it here with what arrived."""
        if environ.get("RAW_URI") != "*":
            return routed(environ, start_response)
        answer = {"method": environ["REQUEST_METHOD"], "path": "*", "pid": os.getpid(), "uri": "*"}
        body = json.dumps(answer, sort_keys=True, separators=(",", ":")).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    app.wsgi_app = asterisk  # type: ignore[method-assign]
    return app
