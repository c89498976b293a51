"""The shop with a public JSON API on its own blueprint, declared after ``init_app``.

Every route of the shop passes through hooks (its ``before_request`` counter, and
Flask-Login's ``after_request`` that refreshes the remember cookie), so the Rust front
proxies every JSON route. ``/api/sum/<n>`` is declared ``native="always"``: the front
answers it in Rust without them, and says so at start-up; ``/api/sum_auto/<n>``, the
same kernel otherwise, stays with gunicorn.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from flask_rustpath.kernels import sum_of_primes_sieve

from .shop import create_app as create_shop
from .shop import rustpath

api = Blueprint("api", __name__, url_prefix="/api")
LIMITS = {"python": {"n": 10**6}, "rust": {"n": 10**9}}


@rustpath.hot(
    "/sum/<int:n>",
    rust="flask_rustpath._native:sum_of_primes",
    blueprint=api,
    native="always",
    limits=LIMITS,
)
def api_sum(n: int) -> int:
    return sum_of_primes_sieve(n)


@rustpath.hot(
    "/sum_auto/<int:n>", rust="flask_rustpath._native:sum_of_primes", blueprint=api, limits=LIMITS
)
def api_sum_auto(n: int) -> int:
    return sum_of_primes_sieve(n)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = create_shop(config)
    app.register_blueprint(api)
    return app
