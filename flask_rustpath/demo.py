"""A small demo app: the built-in hot routes, a baseline ``/hello`` and ``/healthz``.

``flask --app flask_rustpath.demo run`` or, with the shipped gunicorn config,
``gunicorn -c python:flask_rustpath.gunicorn_conf``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template, url_for

from .extension import RustPath
from .kernels import sum_of_primes_sieve
from .state import get_state

rustpath = RustPath()
RUST_SUM_OF_PRIMES = "flask_rustpath._native:sum_of_primes"


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


try:
    from .numpy_kernels import sum_of_primes_numpy
except ImportError:  # NumPy is optional: flask-rustpath[bench]
    pass
else:

    @rustpath.hot(
        "/numpy/sum_of_primes/<int:n>",
        rust=RUST_SUM_OF_PRIMES,
        name="sum_of_primes_numpy",
        limits={"python": {"n": 10**9}, "rust": {"n": 10**10}},
        examples=[{"n": 10_000_000}],
    )
    def sum_of_primes_numpy_demo(n: int) -> int:
        """Sum of the primes below ``n`` by a segmented NumPy sieve."""
        return sum_of_primes_numpy(n)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(config_from_environ(os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)
    rustpath.init_app(app)

    @app.get("/hello")
    def hello() -> str:
        """The cheapest possible view: the framework's own ceiling in benchmarks."""
        return "Hello, World!"

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def index() -> str:
        return render_template("rustpath/index.html", routes=_route_links())

    return app


def config_from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """``RUSTPATH_*`` settings from the environment, values parsed as JSON where they parse.

    ``RUSTPATH_BACKEND=python`` stays a string; ``RUSTPATH_BUILTINS=false`` becomes ``False``.
    """
    settings: dict[str, Any] = {}
    for key, raw in environ.items():
        if key.startswith("RUSTPATH_"):
            try:
                settings[key] = json.loads(raw)
            except ValueError:
                settings[key] = raw
    return settings


def _route_links() -> list[dict[str, Any]]:
    state = get_state()
    links = []
    for name, route in state.routes.items():
        example = dict(route.examples[0]) if route.examples else None
        links.append(
            {
                "name": name,
                "rule": route.rule,
                "doc": (route.python.__doc__ or "").strip().splitlines()[0:1],
                "rust": route.rust.spec,
                "urls": {
                    kind: url_for(f"rustpath.{prefix}{name}", **example)
                    for kind, prefix in (("python", "python_"), ("rust", "rust_"), ("plain", ""))
                }
                if example is not None
                else {},
            }
        )
    return links
