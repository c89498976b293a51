"""An app for the Rust front's tests: a shadowed kernel with a planted mismatch, and a
hot route that reads a query parameter (the front proxies it)."""

from __future__ import annotations

from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.kernels import sum_of_primes_sieve

rustpath = RustPath()
RUST = "flask_rustpath._native:sum_of_primes"
PLANTED = 1000  # the reference is wrong here, and only here


@rustpath.hot("/shadowed/<int:n>", rust=RUST, backend="shadow", shadow_rate=1.0)
def shadowed(n: int) -> int:
    """The sieve, off by one at n = PLANTED: shadow mode must catch it."""
    return sum_of_primes_sieve(n) + (1 if n == PLANTED else 0)


@rustpath.hot("/scaled/<int:n>", rust=RUST, name="scaled", backend="python")
def scaled(n: int, scale: int = 1) -> int:
    """Reads ``scale`` from the query string, which the front leaves to the app."""
    return sum_of_primes_sieve(n) * scale


def create_app() -> Flask:
    app = Flask(__name__)
    rustpath.init_app(app)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return rustpath.health()

    return app
