"""Apps whose hot routes the Rust front must leave to Flask: Python would run around
the kernel (a hook, an error handler) or decide the route (an overlapping rule)."""

from __future__ import annotations

from flask import Flask, abort, request

from flask_rustpath import RustPath

RUST = "flask_rustpath._native:sum_of_primes"


def _sum(n: int) -> int:
    return sum(p for p in range(2, n) if all(p % d for d in range(2, int(p**0.5) + 1)))


def create_app() -> Flask:
    """A key-checking hook on one blueprint-free app, a fixed rule beside a hot one, and
    one hot route nothing touches."""
    rustpath = RustPath()
    app = Flask(__name__)

    @rustpath.hot("/plain/<int:n>", rust=RUST, name="plain")
    def plain(n: int) -> int:
        return _sum(n)

    @rustpath.hot("/overlapped/<int:n>", rust=RUST, name="overlapped")
    def overlapped(n: int) -> int:
        return _sum(n)

    rustpath.init_app(app)

    @app.get("/overlapped/42")
    def fixed() -> str:
        return "the fixed rule wins in Flask"

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_hooked_app() -> Flask:
    """Every request must carry X-Key, checked by a before_request hook."""
    app = create_app()

    @app.before_request
    def require_key() -> None:
        if request.path != "/healthz" and request.headers.get("X-Key") != "secret":
            abort(401)

    return app
