"""Regressions from review: nothing on a hot-route URL answers HTML or leaks, other URLs
keep the app's own error handling, and refused declarations change nothing."""

from __future__ import annotations

import gc
import sys
import tracemalloc

import pytest
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from flask_rustpath import RustPath
from flask_rustpath.demo import create_app
from flask_rustpath.errors import Misconfigured


def test_an_unimportable_target_does_not_leak_per_request(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flask_rustpath._native", None)
    app = Flask("leak")
    app.config["RUSTPATH_BUILTINS"] = False
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

    RustPath(app)
    client = app.test_client()
    assert client.get("/nope").json == {"app_error": 404}
    assert client.get("/rust/sum_of_primes/x").json["error"] == "invalid_argument"


def test_a_404_handler_registered_after_init_app_does_not_take_hot_urls() -> None:
    app = Flask("late_handler")
    RustPath(app)
    app.register_error_handler(404, lambda exc: ("app 404", 404))
    client = app.test_client()
    assert client.get("/nope").get_data(as_text=True) == "app 404"
    assert client.get("/sum_of_primes/x").json["error"] == "invalid_argument"


def test_the_apps_own_405_stays_the_apps() -> None:
    app = Flask("own_405")
    app.config["RUSTPATH_BUILTINS"] = False
    app.add_url_rule("/items/new", "new_item", lambda: "form")
    RustPath(app).hot("/items/<int:item>", rust=lambda item: item, name="item")(lambda item: item)
    client = app.test_client()
    assert not client.post("/items/new").is_json
    assert client.post("/items/5").json["error"] == "method_not_allowed"


def test_a_rule_starting_with_a_variable_does_not_claim_every_404() -> None:
    app = Flask("catch_all")
    app.config["RUSTPATH_BUILTINS"] = False
    RustPath(app).hot("/<int:item>", rust=lambda item: item, name="item")(lambda item: item)
    client = app.test_client()
    assert not client.get("/favicon.ico").is_json
    assert client.get("/rust/abc").json["error"] == "invalid_argument"


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
        ("RUSTPATH_SHADOW_RATE", "often"),
    ],
)
def test_bad_settings_after_start_up_are_json_500s(key: str, value: object) -> None:
    app = create_app({"RUSTPATH_BACKEND": "shadow"})
    app.config[key] = value
    response = app.test_client().get("/sum_of_primes/10")
    assert response.status_code == 500
    assert response.json["error"] == "misconfigured"


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("RUSTPATH_LIMITS", [], "RUSTPATH_LIMITS must be a dict"),
        ("RUSTPATH_LIMITS", {"sum_of_primes": 5}, "must map 'python'/'rust'"),
        ("RUSTPATH_LIMITS", {"sum_of_primes": {"rust": {"N": 5}}}, "limits 'N'"),
        ("RUSTPATH_LIMITS", {"sum_of_primes": {"rust": {"n": float("nan")}}}, "must be a number"),
        ("RUSTPATH_BACKENDS", ["rust"], "RUSTPATH_BACKENDS must be a dict"),
        ("RUSTPATH_SHADOW_RATES", 0.5, "RUSTPATH_SHADOW_RATES must be a dict"),
        ("RUSTPATH_BUILTINS", "false", "RUSTPATH_BUILTINS must be True or False"),
        ("RUSTPATH_PYTHON_PREFIX", "/py/<x>", "fixed path"),
        ("RUSTPATH_SHADOW_WORKERS", 0, "positive integer"),
        ("RUSTPATH_COMPARE", "yes", "RUSTPATH_COMPARE must be None, True or False"),
    ],
)
def test_init_app_refuses_wrong_settings(key: str, value: object, match: str) -> None:
    app = Flask("wrong")
    app.config[key] = value
    with pytest.raises(Misconfigured, match=match):
        RustPath(app)
    assert "rustpath" not in app.extensions
    assert not [r for r in app.url_map.iter_rules() if r.endpoint.startswith("rustpath.")]


def test_a_refused_declaration_leaves_everything_as_it_was() -> None:
    rustpath = RustPath()
    app = Flask("atomic")
    rustpath.init_app(app)
    with pytest.raises(ValueError, match="already served by hot route"):
        rustpath.hot("/sum_of_primes/<int:n>", rust=len, name="mine")(lambda n: n)
    assert len(rustpath) == 0
    other = Flask("other")
    rustpath.init_app(other)  # would fail if the refused route had been kept
    assert set(other.extensions["rustpath"].routes) == {"sum_of_primes"}


def test_declaring_after_the_first_request_is_refused_clearly() -> None:
    app = Flask("late")
    rustpath = RustPath(app)
    app.test_client().get("/sum_of_primes/10")
    with pytest.raises(RuntimeError, match="already handled a request"):
        rustpath.hot("/late/<int:n>", rust=len, name="late")(lambda n: n)
    assert len(rustpath) == 0


def test_an_endpoint_name_clash_is_refused_before_registering() -> None:
    app = Flask("clash")
    app.add_url_rule("/x", "rustpath.rust_sum_of_primes", lambda: "mine")
    with pytest.raises(ValueError, match="already has an endpoint"):
        RustPath(app)
    assert "rustpath" not in app.extensions


def test_rustpath_threads_sets_the_pool_size() -> None:
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from flask_rustpath import _native; print(_native.default_threads())",
        ],
        env={**__import__("os").environ, "RUSTPATH_THREADS": "3"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "3"
