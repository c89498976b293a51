"""One app for the request-path tests, importable without the native module: paired
views with and without kernels, a guarded kernel, a failing kernel, a JSON route, and
the URL forms a user hits (see tests/test_request_path.py)."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, jsonify, url_for

from flask_rustpath import RustPath


def build() -> tuple[Flask, Any]:
    app = Flask(__name__)
    app.config.update(RUSTPATH_LIMITS={"guarded": {"rust": {"n": 1000}}})
    rustpath = RustPath(app)

    def double(n: int) -> int:
        return 2 * n

    plain = rustpath.kernel(rust=lambda n: n + n, name="plain")(double)
    guarded = rustpath.kernel(rust=lambda n: n + n, name="guarded")(double)

    def fails(n: int) -> int:
        raise ValueError(f"no {n}")

    failing = rustpath.kernel(rust=fails, name="failing")(fails)

    @app.get("/both/<int:n>")
    @rustpath.paired
    def both(n: int) -> Any:
        if n == 13:
            abort(404)
        return jsonify(
            plain=plain(n), guarded=guarded(n), link=url_for("both", n=n + 1), side=plain(1)
        )

    @app.get("/fails/<int:n>")
    @rustpath.paired
    def fail(n: int) -> Any:
        return jsonify(result=failing(n))

    @app.get("/none")
    @rustpath.paired
    def none() -> str:
        return "no kernel"

    rustpath.route("/json/<int:n>", plain)
    return app, (plain, guarded, failing)


URLS = [
    "/both/3",
    "/rust/both/3",
    "/python/both/3",
    "/both/5000",  # the guarded kernel's limit: 422
    "/rust/both/5000",
    "/both/13",  # the view's own 404
    "/rust/both/13",
    "/fails/2",  # Err -> 400 naming the kernel
    "/rust/fails/2",
    "/none",
    "/rust/none",
    "/python/none",
    "/json/4",
    "/rust/json/4",
    "/json/x",  # a routing error under a JSON route: JSON 404
    "/rust/json/x",
    "/nowhere",
    "/rust/nowhere",
    "/rust",
]


def answers(app: Flask) -> list[Any]:
    client = app.test_client()
    out = []
    for url in URLS:
        response = client.get(url)
        timing_header = response.headers.get("Server-Timing", "")
        out.append(
            [
                url,
                response.status_code,
                response.headers.get("X-RustPath-Backend"),
                # The durations differ run to run; the entries' sides and names do not.
                [
                    ["dur" if part.startswith("dur=") else part for part in entry.split(";")]
                    for entry in timing_header.split(", ")
                    if entry
                ],
                response.get_data(as_text=True),
            ]
        )
    return out
