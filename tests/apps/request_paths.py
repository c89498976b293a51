"""One app for the request-path tests, importable without the native module: paired
views with and without kernels, a guarded kernel, a failing kernel, a JSON route, and
the URL forms a user hits (see tests/test_request_path.py)."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, jsonify, url_for

from flask_rustpath import RustPath


def build() -> tuple[Flask, Any]:
    app = Flask(__name__)
    app.config.update(RUSTPATH_LIMITS={"guarded": {"rust": {"n": 1000}, "python": {"n": 100}}})
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

    @app.get("/caught/<int:n>")
    @rustpath.paired
    def caught(n: int) -> Any:
        # What a view's own handler sees of a failed call: the error, its cause and
        # context, and whether the context is suppressed (as `raise ... from` leaves it).
        try:
            failing(n)
        except Exception as exc:
            return jsonify(
                error=type(exc).__name__,
                cause=type(exc.__cause__).__name__,
                context=type(exc.__context__).__name__,
                suppressed=exc.__suppress_context__,
            )
        return "unreachable"

    @app.get("/rustic")
    def rustic() -> str:  # a plain URL that starts like a side prefix
        return "plain"

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
    "/python/both/500",  # the guarded kernel's Python-side limit
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
    "/caught/3",
    "/rust/caught/3",
    "/python/caught/3",
    "/rustic",  # not under /rust: no side, no header
    "/python2/none",
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
    # What the app's metrics counted, per kernel and side (mean times aside).
    counts = app.extensions["rustpath"].metrics.snapshot()
    out.append(
        {
            kernel: {
                side: {key: value for key, value in stats.items() if key != "mean_ms"}
                for side, stats in sides.items()
            }
            for kernel, sides in sorted(counts.items())
        }
    )
    return out
