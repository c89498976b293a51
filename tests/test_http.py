"""The three URLs of a hot route through Flask's test client: results, headers, errors."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from flask import Flask, url_for

from flask_rustpath import RustPath
from flask_rustpath.demo import create_app
from flask_rustpath.kernels import sum_of_primes_naive

from .native_hooks import requires_panic_hook

SIDES = ("python", "rust")


def user_app(**config) -> tuple[Flask, RustPath]:
    app = Flask("user_app")
    app.config.update(TESTING=True, RUSTPATH_BUILTINS=False, **config)
    return app, RustPath(app)


# --- results and headers -------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 100, 99_991, 100_000])
def test_all_three_urls_agree(client, n: int) -> None:
    bodies = {}
    for side, prefix in (("python", "/python"), ("rust", "/rust"), ("rust", "")):
        response = client.get(f"{prefix}/sum_of_primes/{n}")
        assert response.status_code == 200
        assert response.headers["X-RustPath-Backend"] == side
        bodies[prefix] = response.get_data()
    assert len(set(bodies.values())) == 1
    assert client.get(f"/rust/sum_of_primes/{n}").json == {"result": sum_of_primes_naive(n)}


def test_server_timing_reports_the_compute_time(client) -> None:
    for side in SIDES:
        timing = client.get(f"/{side}/sum_of_primes/1000").headers["Server-Timing"]
        name, duration, desc = timing.split(";")
        assert name == side
        assert float(duration.removeprefix("dur=")) > 0
        assert desc == 'desc="sum_of_primes"'


def test_large_results_are_exact_json_integers(client) -> None:
    response = client.get("/rust/sum_of_primes/10000000000")
    assert response.json == {"result": 2_220_822_432_581_729_238}


def test_the_demo_answers_ten_to_the_thirteen_exactly(client) -> None:
    # Issue 11: within the built-in route's default Rust limit, by the sublinear method.
    response = client.get("/rust/sum_of_primes/10000000000000")
    assert response.json == {"result": 1_699_246_443_377_779_418_889_494}


def test_head_is_answered(client) -> None:
    assert client.head("/rust/sum_of_primes/100").status_code == 200


def test_endpoints_build_urls(app) -> None:
    with app.test_request_context():
        assert url_for("rustpath.rust_sum_of_primes", n=5) == "/rust/sum_of_primes/5"
        assert url_for("rustpath.python_sum_of_primes", n=5) == "/python/sum_of_primes/5"
        assert url_for("rustpath.sum_of_primes", n=5) == "/sum_of_primes/5"


# --- choosing the backend ---------------------------------------------------------------


def test_backend_python_serves_the_plain_rule_from_python(app, client) -> None:
    app.config["RUSTPATH_BACKEND"] = "python"
    response = client.get("/sum_of_primes/100")
    assert response.headers["X-RustPath-Backend"] == "python"
    assert response.json == {"result": 1060}
    assert client.get("/rust/sum_of_primes/100").headers["X-RustPath-Backend"] == "rust"


def test_per_route_config_overrides_decorator_and_global_backend() -> None:
    app, rustpath = user_app(RUSTPATH_BACKEND="rust")

    @rustpath.hot("/square/<int:x>", rust=lambda x: x * x, backend="python")
    def square(x: int) -> int:
        return x * x

    client = app.test_client()
    assert client.get("/square/3").headers["X-RustPath-Backend"] == "python"
    app.config["RUSTPATH_BACKENDS"] = {"square": "rust"}
    assert client.get("/square/3").headers["X-RustPath-Backend"] == "rust"


def test_unknown_backend_is_refused_at_start_up() -> None:
    app = Flask("bad")
    app.config["RUSTPATH_BACKEND"] = "go"
    with pytest.raises(Exception, match="RUSTPATH_BACKEND must be one of rust, python, shadow"):
        RustPath(app)


def test_unknown_backend_set_after_start_up_is_a_json_500(app, client) -> None:
    app.config["RUSTPATH_BACKEND"] = "go"
    response = client.get("/sum_of_primes/10")
    assert response.status_code == 500
    assert response.json["error"] == "misconfigured"


def test_custom_prefixes() -> None:
    app = create_app(
        {"TESTING": True, "RUSTPATH_PYTHON_PREFIX": "/py/", "RUSTPATH_RUST_PREFIX": "/rs"}
    )
    client = app.test_client()
    assert client.get("/py/sum_of_primes/10").json == {"result": 17}
    assert client.get("/rs/sum_of_primes/10").json == {"result": 17}
    assert client.get("/rust/sum_of_primes/10").status_code == 404


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/python", "/rust", ""])
@pytest.mark.parametrize("arg", ["abc", "-5", "1.5", "1e6", "%20", "0x10"])
def test_non_integer_or_negative_n_is_a_json_404(client, prefix: str, arg: str) -> None:
    response = client.get(f"{prefix}/sum_of_primes/{arg}")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"] == "invalid_argument"
    assert f"{prefix}/sum_of_primes/<int:n>" in response.json["message"]


def test_other_urls_keep_the_apps_own_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert not response.is_json


def test_an_existing_404_handler_still_answers_other_urls() -> None:
    app = Flask("with_handler")
    app.register_error_handler(404, lambda exc: ("custom not found", 404))
    RustPath(app)
    client = app.test_client()
    assert client.get("/elsewhere").get_data(as_text=True) == "custom not found"
    assert client.get("/rust/sum_of_primes/x").json["error"] == "invalid_argument"


def test_wrong_method_is_a_json_405_with_allow(client) -> None:
    response = client.post("/rust/sum_of_primes/10")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("side", "n", "limit"),
    [("python", 1_000_001, 1_000_000), ("rust", 3 * 10**13 + 1, 3 * 10**13)],
)
def test_n_above_the_side_limit_is_a_422_naming_it(client, side: str, n: int, limit: int) -> None:
    response = client.get(f"/{side}/sum_of_primes/{n}")
    assert response.status_code == 422
    assert response.json == {
        "error": "limit_exceeded",
        "message": f"n={n} is above the {side} limit of {limit} for 'sum_of_primes'",
        "argument": "n",
        "limit": limit,
        "backend": side,
    }


def test_default_python_limit_admits_the_blog_post_input(client) -> None:
    assert client.get("/python/sum_of_primes/100000").json == {"result": 454_396_537}


def test_limits_are_configurable(app, client) -> None:
    app.config["RUSTPATH_LIMITS"] = {"sum_of_primes": {"rust": {"n": 50}}}
    assert client.get("/rust/sum_of_primes/50").status_code == 200
    assert client.get("/rust/sum_of_primes/51").status_code == 422
    assert client.get("/sum_of_primes/51").json["limit"] == 50
    assert client.get("/python/sum_of_primes/51").status_code == 200


def test_rust_value_error_is_a_json_400(app, client) -> None:
    app.config["RUSTPATH_LIMITS"] = {"sum_of_primes": {"rust": {"n": 2**60}}}
    response = client.get(f"/rust/sum_of_primes/{10**18 + 1}")  # past _native.MAX_N
    assert response.status_code == 400
    assert response.json["error"] == "bad_input"
    assert "n must be between 0 and" in response.json["message"]


# --- failures of an implementation ------------------------------------------------------


@requires_panic_hook
def test_rust_panic_is_a_json_500_and_the_app_keeps_serving() -> None:
    app, rustpath = user_app()

    @rustpath.hot("/boom/<message>", rust="flask_rustpath._native:_panic")
    def boom(message: str) -> str:
        return message

    client = app.test_client()
    response = client.get("/rust/boom/kaput")
    assert response.status_code == 500
    assert response.json["error"] == "rust_panic"
    assert "kaput" in response.json["message"]
    assert client.get("/python/boom/fine").json == {"result": "fine"}
    assert client.get("/rust/boom/again").status_code == 500  # and again: nothing is left broken


def test_python_exception_is_a_json_500(caplog) -> None:
    app, rustpath = user_app()

    @rustpath.hot("/div/<int:x>", rust=lambda x: 1 // x)
    def div(x: int) -> int:
        raise RuntimeError("bug in the reference")

    response = app.test_client().get("/python/div/1")
    assert response.status_code == 500
    assert response.json["error"] == "implementation_error"
    assert "RuntimeError" in response.json["message"]
    assert "bug in the reference" in caplog.text  # full traceback in the log, not the body
    assert "bug in the reference" not in response.get_data(as_text=True)


def test_unserialisable_result_is_a_json_500() -> None:
    app, rustpath = user_app()

    @rustpath.hot("/obj/<int:x>", rust=lambda x: object())
    def obj(x: int) -> object:
        return x

    response = app.test_client().get("/rust/obj/1")
    assert response.status_code == 500
    assert response.json["error"] == "implementation_error"


def test_keyboard_interrupt_is_not_swallowed() -> None:
    app, rustpath = user_app()

    def interrupted(x: int) -> int:
        raise KeyboardInterrupt

    @rustpath.hot("/ki/<int:x>", rust=interrupted)
    def ki(x: int) -> int:
        return x

    with pytest.raises(KeyboardInterrupt):
        app.test_client().get("/rust/ki/1")


# --- a Rust target that cannot be imported ------------------------------------------------


def test_unimportable_target_falls_back_and_answers_503(monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "flask_rustpath._native", None)  # import now fails
    app, rustpath = user_app()

    @rustpath.hot("/primes/<int:n>", rust="flask_rustpath._native:sum_of_primes")
    def primes(n: int) -> int:
        return sum_of_primes_naive(n)

    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_rustpath"):
        for _ in range(3):
            plain = client.get("/primes/100")
            assert plain.status_code == 200
            assert plain.json == {"result": 1060}
            assert plain.headers["X-RustPath-Backend"] == "python"
            assert plain.headers["X-RustPath-Fallback"] == "rust-unavailable"
            rust = client.get("/rust/primes/100")
            assert rust.status_code == 503
            assert rust.json["error"] == "rust_unavailable"
            assert rust.json["target"] == "flask_rustpath._native:sum_of_primes"
            assert (
                "ModuleNotFoundError" in rust.json["reason"]
                or "ImportError" in rust.json["reason"]
            )
    warnings = [
        r for r in caplog.records if "flask_rustpath._native:sum_of_primes" in r.getMessage()
    ]
    assert len(warnings) == 1


def test_missing_attribute_is_reported() -> None:
    app, rustpath = user_app()

    @rustpath.hot("/nothing/<int:n>", rust="flask_rustpath._native:no_such_kernel")
    def nothing(n: int) -> int:
        return n

    response = app.test_client().get("/rust/nothing/1")
    assert response.status_code == 503
    assert "no_such_kernel" in response.json["reason"]


def test_demo_starts_without_the_native_module() -> None:
    """A fresh interpreter where the extension cannot be imported at all."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["flask_rustpath._native"] = None
        from flask_rustpath.demo import create_app
        client = create_app({"TESTING": True}).test_client()
        plain = client.get("/sum_of_primes/100")
        rust = client.get("/rust/sum_of_primes/100")
        print(plain.status_code, plain.json["result"], plain.headers["X-RustPath-Backend"])
        print(rust.status_code, rust.json["error"])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split("\n")[:2] == ["200 1060 python", "503 rust_unavailable"]
    assert "fall back to Python" in out.stderr


# --- declaring routes ------------------------------------------------------------------------


def test_one_extension_serves_several_apps_declared_before_and_after() -> None:
    rustpath = RustPath()
    first = Flask("first")
    first.config.update(RUSTPATH_RUST_PREFIX="/fast")
    rustpath.init_app(first)

    @rustpath.hot("/double/<int:x>", rust=lambda x: 2 * x)
    def double(x: int) -> int:
        return x + x

    second = Flask("second")
    rustpath.init_app(second)
    assert first.test_client().get("/fast/double/21").json == {"result": 42}
    assert second.test_client().get("/rust/double/21").json == {"result": 42}
    assert first.extensions["rustpath"] is not second.extensions["rustpath"]
    assert set(second.extensions["rustpath"].routes) == {"sum_of_primes", "double"}


def test_init_app_twice_is_refused(app) -> None:
    with pytest.raises(RuntimeError, match="already initialised"):
        RustPath(app)


def test_builtins_can_be_turned_off() -> None:
    app, _ = user_app()
    assert app.test_client().get("/rust/sum_of_primes/10").status_code == 404


def test_a_rule_already_served_by_a_builtin_is_refused_with_a_hint() -> None:
    app = Flask("clash")
    rustpath = RustPath(app)
    with pytest.raises(ValueError, match="RUSTPATH_BUILTINS = False"):

        @rustpath.hot("/sum_of_primes/<int:n>", rust="flask_rustpath._native:sum_of_primes")
        def mine(n: int) -> int:
            return n


def test_the_readme_example_works_with_builtins_off() -> None:
    app, rustpath = user_app()

    @rustpath.hot("/sum_of_primes/<int:n>", rust="flask_rustpath._native:sum_of_primes")
    def sum_of_primes(n: int) -> int:
        return sum_of_primes_naive(n)

    assert sum_of_primes(10) == 17  # the decorated function stays plain Python
    assert app.test_client().get("/sum_of_primes/10").json == {"result": 17}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rust": "no_colon_here"}, ValueError, "package.module:function"),
        ({"rust": 42}, TypeError, "callable"),
        ({"rust": len, "backend": "java"}, ValueError, "backend must be one of"),
        ({"rust": len, "limits": {"c": {"n": 1}}}, ValueError, "keyed by side"),
        ({"rust": len, "limits": {"rust": {"m": 1}}}, ValueError, "does not have"),
        ({"rust": len, "shadow_rat": 0.5}, TypeError, "unknown hot route option"),
    ],
)
def test_bad_declarations_fail_at_import_time(kwargs, error, match) -> None:
    rustpath = RustPath()
    with pytest.raises(error, match=match):

        @rustpath.hot("/f/<int:n>", **kwargs)
        def f(n: int) -> int:
            return n


def test_a_view_that_cannot_take_the_rule_variables_is_refused() -> None:
    rustpath = RustPath()
    with pytest.raises(TypeError, match="cannot be called with the variables"):

        @rustpath.hot("/f/<int:n>", rust=len)
        def f(m: int) -> int:
            return m


def test_rule_arguments_are_computed_once(app) -> None:
    """Compiling a werkzeug rule per request once tripled a hot route's overhead."""
    route = app.extensions["rustpath"].routes["sum_of_primes"]
    assert route.arguments is route.arguments == frozenset({"n"})


def test_a_hot_rule_may_use_the_apps_own_converter() -> None:
    from werkzeug.routing import BaseConverter

    class EvenConverter(BaseConverter):
        regex = r"\d*[02468]"

        def to_python(self, value: str) -> int:
            return int(value)

    app = Flask("custom_converter")
    app.config["RUSTPATH_BUILTINS"] = False
    app.url_map.converters["even"] = EvenConverter
    RustPath(app).hot("/half/<even:x>", rust=lambda x: x // 2, name="half")(lambda x: x // 2)
    client = app.test_client()
    assert client.get("/rust/half/10").json == {"result": 5}
    assert client.get("/rust/half/11").json["error"] == "invalid_argument"
