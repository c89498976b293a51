"""A small demo app: the built-in kernel at the blog's URLs, ``/hello`` and ``/healthz``.

``flask --app flask_rustpath.demo run`` or, with the shipped gunicorn config,
``gunicorn -c python:flask_rustpath.serving.gunicorn_conf``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template

from . import builtins
from .dashboard import route_rule
from .extension import RustPath
from .kernels import sum_of_primes_sieve
from .state import get_state
from .support.docstrings import summary_html

rustpath = RustPath()
RUST_SUM_OF_PRIMES = "flask_rustpath._native:sum_of_primes"

# The blog post's URLs: /sum_of_primes/<n>, /python/… and /rust/…, on the built-in kernel.
rustpath.route("/sum_of_primes/<int:n>", builtins.sum_of_primes)


# The same Rust kernel paired with faster Python than the built-in trial division, so
# benchmarks compare Rust against a fair Python baseline too.
@rustpath.hot(
    "/sieve/sum_of_primes/<int:n>",
    rust=RUST_SUM_OF_PRIMES,
    name="sum_of_primes_sieve",
    limits={"python": {"n": 10**7}, "rust": {"n": 10**10}},  # the Python sieve is O(n) memory
    examples=[{"n": 1_000_000}],
)
def sum_of_primes_sieve_demo(n: int) -> int:
    """Sum of the primes below ``n`` by a pure-Python sieve of Eratosthenes."""
    return sum_of_primes_sieve(n)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    if "RUSTPATH_BUILTINS" not in os.environ:  # the demo shows them unless told otherwise
        app.config["RUSTPATH_BUILTINS"] = True
    if test_config is not None:
        app.config.from_mapping(test_config)
    rustpath.init_app(app)

    @app.get("/hello")
    def hello() -> str:
        """The cheapest possible view: the framework's own ceiling in benchmarks."""
        return "Hello, World!"

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """200 while the app serves; "degraded" when metrics or logging fail."""
        return rustpath.health()

    @app.get("/")
    def index() -> str:
        return render_template("rustpath/index.html", routes=_route_links())

    return app


def _route_links() -> list[dict[str, Any]]:
    state = get_state()
    links = []
    for endpoint, route in state.routes.items():
        example = dict(route.kernel.examples[0]) if route.kernel.examples else None
        links.append(
            {
                "name": endpoint,
                "rule": route_rule(state, endpoint),
                "doc": summary_html(route.kernel.__doc__),
                "rust": route.kernel.rust.spec,
                "urls": {
                    side or "plain": rustpath.url_for(endpoint, side=side, **example)
                    for side in ("python", "rust", None)
                }
                if example is not None
                else {},
            }
        )
    return links
