"""Regressions from review: nothing on a hot-route URL answers HTML or leaks, other URLs
keep the app's own error handling, and refused declarations change nothing."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc

import pytest
from flask import Blueprint, Flask, jsonify
from werkzeug.exceptions import HTTPException

from flask_rustpath import RustPath
from flask_rustpath.core.errors import Misconfigured
from flask_rustpath.demo import create_app

from .servers import ROOT


def user_app(**config) -> tuple[Flask, RustPath]:
    app = Flask("robust")
    app.config.update(TESTING=True, **config)
    return app, RustPath(app)


def declare_square(rustpath: RustPath, rule: str = "/square/<int:x>", **options) -> None:
    @rustpath.hot(rule, rust=lambda x: x * x, **options)
    def square(x: int) -> int:
        return x * x


def test_an_unimportable_target_does_not_leak_per_request(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flask_rustpath._native", None)
    app = Flask("leak")
    RustPath(app).hot("/p/<int:n>", rust="flask_rustpath._native:sum_of_primes", name="p")(
        lambda n: n
    )
    client = app.test_client()

    def burst(count: int) -> None:
        for _ in range(count):
            assert client.get("/rust/p/10").status_code == 503
            assert client.get("/p/10").status_code == 200

    burst(50)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    burst(500)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown / 500 < 500, f"{grown / 500:.0f} bytes kept per request"


def test_a_generic_http_exception_handler_still_answers_other_urls() -> None:
    app = Flask("generic")

    @app.errorhandler(HTTPException)
    def as_json(exc: HTTPException):
        return jsonify(app_error=exc.code), exc.code

    declare_square(RustPath(app), limits={"rust": {"x": 10}})
    client = app.test_client()
    assert client.get("/nope").json == {"app_error": 404}
    assert client.get("/rust/square/x").json["error"] == "invalid_argument"
    # By design, kernel errors are HTTP exceptions: the app's own handler takes them.
    assert client.get("/rust/square/11").json == {"app_error": 422}


def test_a_404_handler_registered_after_init_app_does_not_take_hot_urls() -> None:
    app = Flask("late_handler")
    declare_square(RustPath(app))
    app.register_error_handler(404, lambda exc: ("app 404", 404))
    client = app.test_client()
    assert client.get("/nope").get_data(as_text=True) == "app 404"
    assert client.get("/square/x").json["error"] == "invalid_argument"


def test_the_apps_own_405_stays_the_apps() -> None:
    app, rustpath = user_app()
    app.add_url_rule("/items/new", "new_item", lambda: "form")
    rustpath.hot("/items/<int:item>", rust=lambda item: item, name="item")(lambda item: item)
    client = app.test_client()
    assert client.post("/items/new").status_code == 405
    assert not client.post("/items/new").is_json
    assert client.post("/items/5").json["error"] == "method_not_allowed"


def test_a_rule_starting_with_a_variable_does_not_claim_every_404() -> None:
    app, rustpath = user_app()
    rustpath.hot("/<int:item>", rust=lambda item: item, name="item")(lambda item: item)
    client = app.test_client()
    assert not client.get("/favicon.ico").is_json
    assert client.get("/rust/5").json == {"result": 5}
    # Its variants have no fixed start either, so they claim nothing too (by design).
    assert client.get("/rust/abc").status_code == 404
    assert not client.get("/rust/abc").is_json


def test_an_integer_too_long_for_int_is_a_json_404(client) -> None:
    response = client.get("/rust/sum_of_primes/" + "9" * 5000)
    assert response.status_code == 404
    assert response.json["error"] == "invalid_argument"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("RUSTPATH_LIMITS", {"sum_of_primes": {"rust": {"n": "ten"}}}),
        ("RUSTPATH_LIMITS", ["not", "a", "dict"]),
        ("RUSTPATH_LIMITS", {"sum_of_primes": {"rsut": {"n": 5}}}),
        ("RUSTPATH_BACKENDS", ["rust"]),
        ("RUSTPATH_BACKEND", "go"),
        ("RUSTPATH_SHADOW_RATE", "often"),
    ],
)
def test_bad_settings_after_start_up_change_nothing(key: str, value: object) -> None:
    """By design, settings are read once at init_app: a later change (even a wrong one)
    neither applies nor breaks serving. It used to answer a per-request 500."""
    app = create_app({"TESTING": True, "RUSTPATH_BACKEND": "shadow"})
    app.config[key] = value
    response = app.test_client().get("/sum_of_primes/10")
    assert response.status_code == 200
    assert response.json == {"result": 17}


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("RUSTPATH_LIMITS", [], "RUSTPATH_LIMITS must be a dict"),
        ("RUSTPATH_LIMITS", {"sum_of_primes": 5}, "must map 'python'/'rust'"),
        ("RUSTPATH_LIMITS", {"sum_of_primes": {"rust": {"N": 5}}}, "name 'N', which it does not"),
        ("RUSTPATH_LIMITS", {"sum_of_primes": {"rust": {"n": float("nan")}}}, "must be a number"),
        ("RUSTPATH_BACKENDS", ["rust"], "RUSTPATH_BACKENDS must be a dict"),
        ("RUSTPATH_BACKENDS", {"sum_of_primes": "go"}, r"RUSTPATH_BACKENDS\['sum_of_primes'\]"),
        ("RUSTPATH_SHADOW_RATES", 0.5, "RUSTPATH_SHADOW_RATES must be a dict"),
        ("RUSTPATH_BUILTINS", "false", "RUSTPATH_BUILTINS must be true or false"),
        ("RUSTPATH_PYTHON_PREFIX", "/py/<x>", "fixed path"),
        ("RUSTPATH_RUST_PREFIX", "/rustpath", "must differ"),
        ("RUSTPATH_SHADOW_WORKERS", 0, "positive integer"),
        ("RUSTPATH_SHADOW_POOL", "fork", "RUSTPATH_SHADOW_POOL must be 'process' or 'thread'"),
        ("RUSTPATH_COMPARE", "yes", "RUSTPATH_COMPARE must be None, true or false"),
        ("RUSTPATH_CONCURRENCY", {"python": 0}, r"RUSTPATH_CONCURRENCY\['python'\]"),
        ("RUSTPATH_CONCURRENCY", {"go": 1}, "RUSTPATH_CONCURRENCY must map"),
        ("RUSTPATH_DEADLINE", 0, "RUSTPATH_DEADLINE must be a positive number"),
        ("RUSTPATH_LOG_INTERVAL", -1, "RUSTPATH_LOG_INTERVAL must be a number of seconds"),
    ],
)
def test_init_app_refuses_wrong_settings(key: str, value: object, match: str) -> None:
    app = Flask("wrong")
    app.config["RUSTPATH_BUILTINS"] = True  # so per-kernel settings are resolved too
    app.config[key] = value
    with pytest.raises(Misconfigured, match=match):
        RustPath(app)
    assert "rustpath" not in app.extensions
    assert not [r for r in app.url_map.iter_rules() if r.endpoint.startswith("rustpath.")]
    assert app.wsgi_app.__class__.__name__ != "PairingMiddleware"


# --- rules under a side prefix, and collisions ------------------------------------------------


@pytest.mark.parametrize(
    ("config", "rule"),
    [
        ({}, "/rust/admin"),
        ({}, "/python"),
        ({}, "/python/<int:n>"),
        ({"RUSTPATH_RUST_PREFIX": "/fast"}, "/fast/x"),
    ],
)
@pytest.mark.parametrize("order", ["before", "after"])
def test_a_rule_under_a_side_prefix_is_refused_in_either_order(config, rule, order) -> None:
    app = Flask("prefixed")
    app.config.update(config)
    if order == "before":
        app.add_url_rule(rule, "hidden", lambda **kw: "hidden")
        with pytest.raises(Misconfigured, match="reserves"):
            RustPath(app)
        assert "rustpath" not in app.extensions
    else:
        RustPath(app)
        with pytest.raises(Misconfigured, match="reserves"):
            app.add_url_rule(rule, "hidden", lambda **kw: "hidden")
        assert "hidden" not in {r.endpoint for r in app.url_map.iter_rules()}


def test_a_rule_that_only_starts_like_a_prefix_is_accepted() -> None:
    app, _ = user_app()
    app.add_url_rule("/rusty", "rusty", lambda: "rusty")
    app.add_url_rule("/pythonic/x", "pythonic", lambda: "pythonic")
    client = app.test_client()
    assert client.get("/rusty").get_data(as_text=True) == "rusty"
    assert client.get("/pythonic/x").get_data(as_text=True) == "pythonic"


def test_a_blueprint_rule_under_a_side_prefix_is_refused() -> None:
    app, _ = user_app()
    bp = Blueprint("admin", __name__, url_prefix="/rust")
    bp.add_url_rule("/panel", "panel", lambda: "panel")
    with pytest.raises(Misconfigured, match="reserves"):
        app.register_blueprint(bp)


@pytest.mark.parametrize(
    "existing",
    ["/square/<int:x>", "/square/<int:n>"],  # the same shape collides whatever the name
)
def test_a_hot_rule_colliding_with_an_app_rule_is_refused_in_either_order(existing) -> None:
    # The app's rule first, then the hot route.
    app, rustpath = user_app()
    app.add_url_rule(existing, "page", lambda **kw: "page")
    with pytest.raises(Misconfigured, match="collides"):
        declare_square(rustpath)
    assert app.test_client().get("/square/3").get_data(as_text=True) == "page"
    # The hot route first, then the app's rule.
    app, rustpath = user_app()
    declare_square(rustpath)
    with pytest.raises(Misconfigured, match="collides"):
        app.add_url_rule(existing, "page", lambda **kw: "page")
    assert app.test_client().get("/square/3").json == {"result": 9}


def test_a_hot_rule_on_an_app_initialised_later_is_checked_too() -> None:
    rustpath = RustPath()
    declare_square(rustpath)
    app = Flask("later")
    app.add_url_rule("/square/<int:y>", "page", lambda y: "page")
    with pytest.raises(Misconfigured, match="collides"):
        rustpath.init_app(app)
    assert "rustpath" not in app.extensions


def test_the_collision_message_names_the_hot_route() -> None:
    app, rustpath = user_app()
    app.add_url_rule("/square/<int:y>", "page", lambda y: "page")
    with pytest.raises(Misconfigured) as refused:
        declare_square(rustpath)
    message = str(refused.value)
    assert "'/square/<int:x>' (square)" in message
    assert "(page), which is a hot route" not in message  # page is the app's own view


def test_a_rule_with_another_converter_does_not_collide() -> None:
    app, rustpath = user_app()
    declare_square(rustpath)
    app.add_url_rule("/square/<name>", "by_name", lambda name: name)
    client = app.test_client()
    assert client.get("/square/3").json == {"result": 9}
    assert client.get("/square/abc").get_data(as_text=True) == "abc"


def test_a_rule_with_other_methods_does_not_collide() -> None:
    """Flask adds OPTIONS to every rule: that shared method is no collision."""
    app, rustpath = user_app()
    declare_square(rustpath)
    app.add_url_rule("/square/<int:x>", "post", lambda x: "posted", methods=["POST"])
    client = app.test_client()
    assert client.get("/square/3").json == {"result": 9}
    assert client.post("/square/3").get_data(as_text=True) == "posted"


def test_a_refused_declaration_leaves_everything_as_it_was() -> None:
    app, rustpath = user_app()
    app.add_url_rule("/square/<int:y>", "page", lambda y: "page")
    with pytest.raises(Misconfigured, match="collides"):
        declare_square(rustpath)
    state = app.extensions["rustpath"]
    assert rustpath.kernels == {} and rustpath.routes == []
    assert "square" not in state.kernels
    assert "square" not in state.routes
    # Fixing the rule then works, with a kernel of the same name.
    declare_square(rustpath, "/squares/<int:x>")
    assert app.test_client().get("/squares/3").json == {"result": 9}
    other = Flask("other")
    rustpath.init_app(other)
    assert set(other.extensions["rustpath"].routes) == {"square"}


def test_an_endpoint_name_clash_is_refused_and_leaves_the_extension_as_it_was() -> None:
    app, rustpath = user_app()
    app.add_url_rule("/sq", "square", lambda: "mine")
    with pytest.raises(AssertionError, match="overwriting an existing endpoint function"):
        declare_square(rustpath)
    assert rustpath.kernels == {} and rustpath.routes == []
    assert "square" not in app.extensions["rustpath"].kernels
    assert app.test_client().get("/sq").get_data(as_text=True) == "mine"


def test_declaring_after_the_first_request_is_refused_clearly() -> None:
    app, rustpath = user_app()
    app.test_client().get("/hello")
    with pytest.raises(AssertionError, match="already handled its first request"):
        declare_square(rustpath)
    assert rustpath.kernels == {} and rustpath.routes == []
    assert "square" not in app.extensions["rustpath"].kernels


def test_rustpath_threads_sets_the_pool_size() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from flask_rustpath import _native; print(_native.default_threads())",
        ],
        env={**os.environ, "RUSTPATH_THREADS": "3", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "3"


def test_the_int_converter_keeps_werkzeugs_arguments_and_refuses_overlong_numbers() -> None:
    """The extension's ``int`` converter (ASCII digits only) keeps werkzeug's
    ``fixed_digits``, ``min`` and ``max``, and answers a number too long for ``int()``
    with the app's 404, not a 500."""
    app = Flask(__name__)
    RustPath(app)
    app.add_url_rule("/fixed/<int(fixed_digits=3):n>", "fixed", lambda n: str(n))
    app.add_url_rule("/range/<int(min=2, max=9):n>", "range", lambda n: str(n))
    app.add_url_rule("/any/<int:n>", "any", lambda n: str(n))
    client = app.test_client()
    assert client.get("/fixed/042").text == "42"
    assert client.get("/fixed/42").status_code == 404
    assert [client.get(f"/range/{n}").status_code for n in (1, 2, 9, 10)] == [404, 200, 200, 404]
    assert client.get("/any/" + "9" * 5000).status_code == 404
    assert client.get("/any/\u0663").status_code == 404  # an Arabic-Indic three
