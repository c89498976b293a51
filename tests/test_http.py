"""The three URLs of a hot route through Flask's test client: results, headers, errors."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import threading

import pytest
from flask import Flask

from flask_rustpath import RustPath, _native, builtins, url_for
from flask_rustpath.core.errors import BadInput, DeadlineExceeded, Misconfigured
from flask_rustpath.demo import create_app
from flask_rustpath.kernels import sum_of_primes_naive

from . import support
from .native_hooks import requires_panic_hook

SIDES = ("python", "rust")


def user_app(**config) -> tuple[Flask, RustPath]:
    app = Flask("user_app")
    app.config.update(TESTING=True, **config)
    return app, RustPath(app)


def strict_json(text: str):
    """Parse as RFC 8259 does: ``NaN``/``Infinity`` are errors, not numbers."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


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


def test_the_builtin_route_on_the_extensions_blueprint_answers_on_every_side(client) -> None:
    for prefix, side in (("/python", "python"), ("/rust", "rust"), ("", "rust")):
        response = client.get(f"{prefix}/rustpath/sum_of_primes/100")
        assert response.json == {"result": 1060}, prefix
        assert response.headers["X-RustPath-Backend"] == side


def test_server_timing_reports_the_compute_time(client) -> None:
    for side in SIDES:
        timing = client.get(f"/{side}/sum_of_primes/1000").headers["Server-Timing"]
        name, duration, desc = timing.split(";")
        assert name == side
        assert float(duration.removeprefix("dur=")) > 0
        assert desc == 'desc="sum_of_primes"'


def test_large_results_are_exact_json_integers() -> None:
    # No deadline: the answer must not depend on how busy the machine is.
    client = create_app({"TESTING": True, "RUSTPATH_DEADLINE": None}).test_client()
    response = client.get("/rust/sum_of_primes/10000000000")
    assert response.get_data() == b'{"result":2220822432581729238}\n'


def test_the_demo_answers_ten_to_the_thirteen_exactly(client) -> None:
    # Issue 11: within the built-in route's default Rust limit, by the sublinear method.
    response = client.get("/rust/sum_of_primes/10000000000000")
    assert response.json == {"result": 1_699_246_443_377_779_418_889_494}


def test_head_is_answered(client) -> None:
    assert client.head("/rust/sum_of_primes/100").status_code == 200


def test_url_for_builds_every_variant(app) -> None:
    with app.test_request_context():
        assert url_for("sum_of_primes", n=5, side="rust") == "/rust/sum_of_primes/5"
        assert url_for("sum_of_primes", n=5, side="python") == "/python/sum_of_primes/5"
        assert url_for("sum_of_primes", n=5) == "/sum_of_primes/5"
        assert url_for("rustpath.sum_of_primes", n=5) == "/rustpath/sum_of_primes/5"
        assert (
            url_for("rustpath.sum_of_primes", n=5, side="rust") == "/rust/rustpath/sum_of_primes/5"
        )
        with pytest.raises(ValueError, match="not a paired view"):
            url_for("hello", side="rust")


# --- choosing the backend ---------------------------------------------------------------


def test_backend_python_serves_the_plain_rule_from_python() -> None:
    client = create_app({"TESTING": True, "RUSTPATH_BACKEND": "python"}).test_client()
    response = client.get("/sum_of_primes/100")
    assert response.headers["X-RustPath-Backend"] == "python"
    assert response.json == {"result": 1060}
    assert client.get("/rust/sum_of_primes/100").headers["X-RustPath-Backend"] == "rust"


def test_settings_changed_after_init_app_do_not_apply(app, client) -> None:
    """By design: settings are read once, at init_app, never per request."""
    app.config["RUSTPATH_BACKEND"] = "python"
    app.config["RUSTPATH_LIMITS"] = {"sum_of_primes": {"rust": {"n": 5}}}
    response = client.get("/sum_of_primes/100")
    assert response.headers["X-RustPath-Backend"] == "rust"
    assert response.json == {"result": 1060}


def test_no_setting_is_resolved_per_request(monkeypatch, app, client) -> None:
    import flask_rustpath.core.runtime

    calls = []
    resolve = flask_rustpath.core.runtime.resolve
    monkeypatch.setattr(
        flask_rustpath.core.runtime, "resolve", lambda *a: calls.append(a) or resolve(*a)
    )
    for prefix in ("", "/python", "/rust"):
        assert client.get(f"{prefix}/sum_of_primes/10").status_code == 200
    assert calls == []


@pytest.mark.parametrize(
    ("config", "side"),
    [
        ({}, "python"),  # the decorator's backend="python"
        ({"RUSTPATH_BACKENDS": {"square": "rust"}}, "rust"),  # per-kernel config wins
        ({"RUSTPATH_BACKEND": "shadow"}, "python"),  # the global default loses to both
    ],
)
def test_per_kernel_config_overrides_decorator_and_global_backend(config, side) -> None:
    app, rustpath = user_app(**config)

    @rustpath.hot("/square/<int:x>", rust=lambda x: x * x, backend="python")
    def square(x: int) -> int:
        return x * x

    response = app.test_client().get("/square/3")
    assert response.headers["X-RustPath-Backend"] == side
    assert response.json == {"result": 9}


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("RUSTPATH_BACKEND", "go", "RUSTPATH_BACKEND must be one of rust, python, shadow"),
        ("RUSTPATH_BACKENDS", ["rust"], "RUSTPATH_BACKENDS must be a dict"),
    ],
)
def test_a_bad_global_kernel_setting_is_refused_by_init_app(key, value, match) -> None:
    """Even before any kernel is declared: init_app is where settings are checked."""
    app = Flask("bad")
    app.config[key] = value
    with pytest.raises(Misconfigured, match=match):
        RustPath(app)


def test_a_bad_global_backend_is_refused_for_the_first_kernel_declared() -> None:
    app = Flask("bad_first")
    app.config["RUSTPATH_BACKEND"] = "go"
    try:
        rustpath = RustPath(app)
    except Misconfigured:
        return  # refused even earlier: fine
    with pytest.raises(Misconfigured, match="RUSTPATH_BACKEND must be one of"):
        rustpath.hot("/f/<int:n>", rust=lambda n: n, name="f")(lambda n: n)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("RUSTPATH_BAKEND", "RUSTPATH_BACKEND"),
        ("RUSTPATH_LIMIT", "RUSTPATH_LIMITS"),
        ("RUSTPATH_SHADOW_RATES_", "RUSTPATH_SHADOW_RATES"),
        ("RUSTPATH_DEADLNE", "RUSTPATH_DEADLINE"),
    ],
)
def test_a_misspelt_key_is_refused_with_a_did_you_mean(key: str, hint: str) -> None:
    app = Flask("misspelt")
    app.config[key] = "rust"
    with pytest.raises(Misconfigured, match=f"unknown setting {key}; did you mean {hint}\\?"):
        RustPath(app)
    assert "rustpath" not in app.extensions


def test_an_unknown_key_without_a_near_miss_is_refused_without_a_guess() -> None:
    app = Flask("unknown")
    app.config["RUSTPATH_ZZZ"] = 1
    with pytest.raises(Misconfigured, match=r"^unknown setting RUSTPATH_ZZZ$"):
        RustPath(app)


def test_a_misspelt_environment_variable_is_refused_too(monkeypatch) -> None:
    monkeypatch.setenv("RUSTPATH_BAKEND", "python")
    with pytest.raises(Misconfigured, match="did you mean RUSTPATH_BACKEND"):
        RustPath(Flask("env_misspelt"))


def test_rustpath_threads_is_not_an_app_setting(monkeypatch) -> None:
    monkeypatch.setenv("RUSTPATH_THREADS", "2")  # read by the Rust pool: ignored here
    RustPath(Flask("threads_env"))
    app = Flask("threads_config")
    app.config["RUSTPATH_THREADS"] = 2
    with pytest.raises(Misconfigured, match="process environment"):
        RustPath(app)


def declare_square(rustpath: RustPath) -> None:
    @rustpath.hot("/square/<int:x>", rust=lambda x: x * x)
    def square(x: int) -> int:
        return x * x


@pytest.mark.parametrize(
    ("environ", "config", "side"),
    [
        ({}, {}, "rust"),  # the default
        ({"RUSTPATH_BACKEND": "python"}, {}, "python"),  # the environment over the default
        ({"RUSTPATH_BACKEND": "python"}, {"RUSTPATH_BACKEND": "rust"}, "rust"),  # app.config
        ({"RUSTPATH_BACKENDS": '{"square": "python"}'}, {}, "python"),  # parsed as JSON
    ],
)
def test_environment_variables_reach_any_app_below_app_config(
    monkeypatch, environ, config, side
) -> None:
    for key in [k for k in os.environ if k.startswith("RUSTPATH_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    app, rustpath = user_app(**config)
    declare_square(rustpath)
    response = app.test_client().get("/square/4")
    assert response.headers["X-RustPath-Backend"] == side
    assert response.json == {"result": 16}


def test_environment_json_values_are_parsed(monkeypatch) -> None:
    monkeypatch.setenv("RUSTPATH_LIMITS", '{"square": {"rust": {"x": 10}}}')
    monkeypatch.setenv("RUSTPATH_BUILTINS", "true")
    app, rustpath = user_app()
    declare_square(rustpath)
    client = app.test_client()
    assert client.get("/rust/square/11").json["limit"] == 10
    assert client.get("/rustpath/sum_of_primes/10").json == {"result": 17}


def test_custom_prefixes() -> None:
    app = create_app(
        {"TESTING": True, "RUSTPATH_PYTHON_PREFIX": "/py/", "RUSTPATH_RUST_PREFIX": "/rs"}
    )
    client = app.test_client()
    assert client.get("/py/sum_of_primes/10").headers["X-RustPath-Backend"] == "python"
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
    # The variants share the app's one rule: the message names it without a prefix.
    assert response.json["rule"] == "/sum_of_primes/<int:n>"
    assert "/sum_of_primes/<int:n>" in response.json["message"]


@pytest.mark.parametrize("prefix", ["/python", "/rust", ""])
@pytest.mark.parametrize(
    "digits",
    [
        "\u0661\u0660\u0660",  # Arabic-Indic 100
        "\uff11\uff10\uff10",  # fullwidth 100
        "\u0967\u0966\u0966",  # Devanagari 100
        "1\u0660",  # ASCII and Arabic-Indic mixed
    ],
)
def test_non_ascii_digits_are_a_json_404(client, prefix: str, digits: str) -> None:
    response = client.get(f"{prefix}/sum_of_primes/{digits}")
    assert response.status_code == 404
    assert response.json["error"] == "invalid_argument"
    assert digits in response.json["message"]  # decoded, not shown as mojibake


@pytest.mark.parametrize("prefix", ["/python", "/rust", ""])
@pytest.mark.parametrize(
    "path", ["/sum_of_primes/10/", "/sum_of_primes/", "/sum_of_primes", "/sum_of_primes/1%2F2"]
)
def test_trailing_slash_missing_variable_and_encoded_slash_are_json_404s(
    client, prefix: str, path: str
) -> None:
    response = client.get(prefix + path)
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"] in ("not_found", "invalid_argument")


def test_other_urls_keep_the_apps_own_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert not response.is_json


def test_an_existing_404_handler_still_answers_other_urls() -> None:
    app = Flask("with_handler")
    app.register_error_handler(404, lambda exc: ("custom not found", 404))
    declare_square(RustPath(app))
    client = app.test_client()
    assert client.get("/elsewhere").get_data(as_text=True) == "custom not found"
    assert client.get("/rust/elsewhere").get_data(as_text=True) == "custom not found"
    assert client.get("/rust/square/x").json["error"] == "invalid_argument"


def test_wrong_method_is_a_json_405_with_allow(client) -> None:
    response = client.post("/rust/sum_of_primes/10")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("side", ["python", "rust"])
def test_n_above_the_side_limit_is_a_422_naming_it(client, side: str) -> None:
    limit = builtins.sum_of_primes.limits[side]["n"]
    n = limit + 1
    response = client.get(f"/{side}/sum_of_primes/{n}")
    assert response.status_code == 422
    assert response.json == {
        "error": "limit_exceeded",
        "message": f"n={n} is above the {side} limit of {limit} for 'sum_of_primes'",
        "argument": "n",
        "limit": limit,
        "side": side,
    }


def test_default_python_limit_admits_the_blog_post_input(client) -> None:
    assert client.get("/python/sum_of_primes/100000").json == {"result": 454_396_537}


def test_limits_are_configurable() -> None:
    app = create_app({"TESTING": True, "RUSTPATH_LIMITS": {"sum_of_primes": {"rust": {"n": 50}}}})
    client = app.test_client()
    assert client.get("/rust/sum_of_primes/50").status_code == 200
    assert client.get("/rust/sum_of_primes/51").status_code == 422
    assert client.get("/sum_of_primes/51").json["limit"] == 50
    assert client.get("/python/sum_of_primes/51").status_code == 200


def test_rust_value_error_is_a_json_400() -> None:
    app = create_app(
        {"TESTING": True, "RUSTPATH_LIMITS": {"sum_of_primes": {"rust": {"n": 2**64}}}}
    )
    response = app.test_client().get(f"/rust/sum_of_primes/{_native.MAX_N + 1}")
    assert response.status_code == 400
    assert response.json["error"] == "bad_input"
    assert "n must be between 0 and" in response.json["message"]


def test_bad_input_and_deadline_stay_value_and_timeout_errors_to_a_view() -> None:
    """Code around a kernel call that catches ValueError/TimeoutError keeps working."""
    app, rustpath = user_app()

    def rust_checked(n: int, timeout: float | None = None) -> int:
        if n < 0:
            raise ValueError("n must not be negative")
        if n > 100:
            raise TimeoutError("stopped")
        return n

    @rustpath.kernel(rust=rust_checked)
    def checked(n: int) -> int:
        if n < 0:
            raise ValueError("n must not be negative")
        return n

    @app.route("/checked/<int(signed=True):n>")
    @rustpath.paired
    def checked_view(n: int):
        try:
            return {"value": checked(n)}
        except ValueError as exc:
            return {"caught": "ValueError", "bad_input": isinstance(exc, BadInput)}, 400
        except TimeoutError as exc:
            return {"caught": "TimeoutError", "deadline": isinstance(exc, DeadlineExceeded)}, 504

    client = app.test_client()
    for prefix in ("", "/python", "/rust"):
        response = client.get(f"{prefix}/checked/-1")
        assert (response.status_code, response.json) == (
            400,
            {"caught": "ValueError", "bad_input": True},
        ), prefix
    response = client.get("/rust/checked/101")
    assert (response.status_code, response.json) == (
        504,
        {"caught": "TimeoutError", "deadline": True},
    )
    assert client.get("/rust/checked/7").json == {"value": 7}


def test_a_deadline_exceeded_on_a_hot_route_is_a_json_504() -> None:
    app, rustpath = user_app()

    def rust_slow(n: int, timeout: float | None = None) -> int:
        raise TimeoutError(f"timeout={timeout}")

    rustpath.hot("/slow/<int:n>", rust=rust_slow, name="slow")(lambda n: n)
    response = app.test_client().get("/rust/slow/1")
    assert response.status_code == 504
    assert response.json["error"] == "deadline_exceeded"


@pytest.mark.parametrize(("deadline", "passed"), [(2.5, 2.5), (None, "absent")])
def test_the_deadline_is_passed_to_rust_functions_that_take_timeout(deadline, passed) -> None:
    app, rustpath = user_app(RUSTPATH_DEADLINE=deadline)
    seen = []

    def rust_with_timeout(n: int, timeout: float | str = "absent") -> int:
        seen.append(timeout)
        return n

    def rust_without(n: int) -> int:
        return n

    rustpath.hot("/t/<int:n>", rust=rust_with_timeout, name="t")(lambda n: n)
    rustpath.hot("/u/<int:n>", rust=rust_without, name="u")(lambda n: n)
    client = app.test_client()
    assert client.get("/rust/t/3").json == {"result": 3}
    assert client.get("/rust/u/3").json == {"result": 3}  # no timeout= forced on it
    assert seen == [passed]


def test_a_full_python_gate_is_a_503_with_retry_after() -> None:
    """A deliberate cap of one Python call per worker, with no wait: a second Python
    call while one runs is refused at once, and the Rust side still answers."""
    app, rustpath = user_app(RUSTPATH_CONCURRENCY={"python": 1}, RUSTPATH_ADMISSION_WAIT=0)
    entered, release = threading.Event(), threading.Event()

    def blocking(x: int) -> int:
        entered.set()
        assert release.wait(30)
        return x

    rustpath.hot("/block/<int:x>", rust=lambda x: x, name="block")(blocking)
    answers = {}

    def hold() -> None:
        answers["held"] = app.test_client().get("/python/block/1")

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(30)
        refused = app.test_client().get("/python/block/2")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.json["error"] == "overloaded"
        assert refused.json["side"] == "python"
        assert app.test_client().get("/rust/block/3").json == {"result": 3}
    finally:
        release.set()
        holder.join(30)
    assert answers["held"].json == {"result": 1}
    assert app.test_client().get("/python/block/4").json == {"result": 4}  # the slot is back
    stats = rustpath.stats(app)["block"]["python"]
    assert stats["errors"] == {"overloaded": 1}


# --- failures of an implementation ------------------------------------------------------


@requires_panic_hook
def test_rust_panic_is_a_json_500_and_the_app_keeps_serving(caplog) -> None:
    app, rustpath = user_app()

    @rustpath.hot("/boom/<message>", rust="flask_rustpath._native:_panic")
    def boom(message: str) -> str:
        return message

    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="flask_rustpath"):
        response = client.get("/rust/boom/kaput")
    assert response.status_code == 500
    assert response.json["error"] == "rust_panic"
    assert "kaput" in caplog.text  # the panic message goes to the log…
    assert "kaput" not in response.get_data(as_text=True)  # …not to the client
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
    assert "RuntimeError" in caplog.text  # full traceback in the log, not the body
    assert "bug in the reference" in caplog.text
    assert "bug in the reference" not in response.get_data(as_text=True)


def test_unserialisable_result_is_a_json_500() -> None:
    app, rustpath = user_app()

    @rustpath.hot("/obj/<int:x>", rust=lambda x: object())
    def obj(x: int) -> object:
        return x

    response = app.test_client().get("/rust/obj/1")
    assert response.status_code == 500
    assert response.json["error"] == "implementation_error"


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), [1.0, float("nan")]])
def test_a_non_finite_float_result_is_a_strict_json_500(value) -> None:
    app, rustpath = user_app()
    rustpath.hot("/nf/<int:x>", rust=lambda x: value, name="nf")(lambda x: value)
    client = app.test_client()
    for prefix in ("", "/python", "/rust"):
        response = client.get(f"{prefix}/nf/1")
        assert response.status_code == 500
        body = strict_json(response.get_data(as_text=True))  # no NaN/Infinity anywhere
        assert body["error"] == "implementation_error"


def test_finite_floats_are_still_served() -> None:
    app, rustpath = user_app()
    rustpath.hot("/half/<int:x>", rust=lambda x: x / 2, name="half")(lambda x: x / 2)
    assert strict_json(app.test_client().get("/rust/half/3").get_data(as_text=True)) == {
        "result": 1.5
    }


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
            rust = client.get("/rust/primes/100")
            assert rust.status_code == 503
            assert rust.json["error"] == "rust_unavailable"
            assert rust.json["kernel"] == "primes"
    messages = [r.getMessage() for r in caplog.records]
    # One line when the import failed, one (rate-limited) line for the fallbacks.
    assert len([m for m in messages if "fall back to Python" in m]) == 1
    assert len([m for m in messages if "runs on Python" in m]) == 1
    assert all(f"[pid {os.getpid()}]" in m for m in messages if "Python" in m)
    assert rustpath.stats(app)["primes"]["fallbacks"] == 3


def test_the_503_body_carries_no_path_or_exception_text(monkeypatch, tmp_path, caplog) -> None:
    secret = tmp_path / "hidden" / "libsecret.so"
    (tmp_path / "broken_native_mod.py").write_text(
        f"raise ImportError({str(secret) + ': cannot open shared object file'!r})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    app, rustpath = user_app()
    rustpath.hot("/b/<int:n>", rust="broken_native_mod:kernel", name="b")(lambda n: n)
    rustpath.hot("/m/<int:n>", rust="flask_rustpath._native:no_such_kernel", name="m")(lambda n: n)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_rustpath"):
        for path in ("/rust/b/1", "/rust/m/1"):
            response = client.get(path)
            assert response.status_code == 503
            assert response.json["error"] == "rust_unavailable"
            body = response.get_data(as_text=True)
            for leak in (
                str(tmp_path),
                "libsecret",
                "ImportError",
                "cannot open",
                "AttributeError",
                "no_such_kernel",
                "broken_native_mod",
                "/",
            ):
                assert leak not in body.replace("\\/", ""), (path, leak, body)
    assert str(secret) in caplog.text  # the reason is in the log
    assert "no_such_kernel" in caplog.text


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
    out = support.run_python(["-c", script])
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
    assert first.test_client().get("/rust/double/21").status_code == 404
    assert first.extensions["rustpath"] is not second.extensions["rustpath"]
    assert set(second.extensions["rustpath"].routes) == {"double"}


def test_init_app_twice_is_refused(app) -> None:
    with pytest.raises(RuntimeError, match="already initialised"):
        RustPath(app)


def test_builtins_are_off_by_default() -> None:
    app, _ = user_app()
    client = app.test_client()
    for path in (
        "/sum_of_primes/10",
        "/rustpath/sum_of_primes/10",
        "/rust/rustpath/sum_of_primes/10",
    ):
        assert client.get(path).status_code == 404, path
    assert "sum_of_primes" not in app.extensions["rustpath"].kernels


def test_builtins_can_be_turned_on_under_the_extensions_prefix() -> None:
    app, _ = user_app(RUSTPATH_BUILTINS=True, RUSTPATH_URL_PREFIX="/_rp")
    client = app.test_client()
    assert client.get("/_rp/sum_of_primes/10").json == {"result": 17}
    assert client.get("/python/_rp/sum_of_primes/10").json == {"result": 17}
    assert client.get("/sum_of_primes/10").status_code == 404  # the blog's URL stays the app's


def test_a_kernel_named_like_a_builtin_is_refused_with_a_hint() -> None:
    _, rustpath = user_app(RUSTPATH_BUILTINS=True)
    with pytest.raises(ValueError, match="give one of them name="):

        @rustpath.hot("/sum_of_primes/<int:n>", rust="flask_rustpath._native:sum_of_primes")
        def sum_of_primes(n: int) -> int:
            return n


def test_the_readme_example_works_with_builtins_off() -> None:
    app, rustpath = user_app()

    @rustpath.hot("/sum_of_primes/<int:n>", rust="flask_rustpath._native:sum_of_primes")
    def sum_of_primes(n: int) -> int:
        return sum_of_primes_naive(n)

    assert sum_of_primes.python(10) == 17  # the reference stays plain Python
    assert app.test_client().get("/sum_of_primes/10").json == {"result": 17}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rust": "no_colon_here"}, ValueError, "package.module:function"),
        ({"rust": 42}, TypeError, "callable"),
        ({"rust": len, "backend": "java"}, ValueError, "backend must be one of"),
        ({"rust": len, "limits": {"c": {"n": 1}}}, ValueError, "keyed by side"),
        ({"rust": len, "limits": {"rust": {"m": 1}}}, ValueError, r"\['m'\], which .* not take"),
        (
            {"rust": len, "shadow_rat": 0.5},
            TypeError,
            r"unknown kernel option\(s\) \['shadow_rat'\]",
        ),
        ({"rust": len, "shadow_rate": 1.5}, ValueError, "shadow_rate must be from 0 to 1"),
    ],
)
def test_bad_declarations_fail_at_import_time(kwargs, error, match) -> None:
    rustpath = RustPath()
    with pytest.raises(error, match=match):

        @rustpath.hot("/f/<int:n>", **kwargs)
        def f(n: int) -> int:
            return n

    assert rustpath.kernels == {} and rustpath.routes == []


def test_a_view_that_cannot_take_the_rule_variables_is_refused() -> None:
    rustpath = RustPath()
    with pytest.raises(TypeError, match="cannot take the variable"):

        @rustpath.hot("/f/<int:n>", rust=len)
        def f(m: int) -> int:
            return m


def test_a_hot_rule_may_use_the_apps_own_converter() -> None:
    from werkzeug.routing import BaseConverter

    class EvenConverter(BaseConverter):
        regex = r"\d*[02468]"

        def to_python(self, value: str) -> int:
            return int(value)

    app = Flask("custom_converter")
    app.url_map.converters["even"] = EvenConverter
    RustPath(app).hot("/half/<even:x>", rust=lambda x: x // 2, name="half")(lambda x: x // 2)
    client = app.test_client()
    assert client.get("/rust/half/10").json == {"result": 5}
    assert client.get("/rust/half/11").json["error"] == "invalid_argument"


def test_query_and_json_parameters_reach_the_kernel_and_are_checked() -> None:
    app, rustpath = user_app()

    @rustpath.hot(
        "/score/<int:base>",
        rust=lambda base, bonus, word="": base + bonus + len(word),
        methods=["GET", "POST"],
    )
    def score(base: int, bonus: int, word: str = "") -> int:
        return base + bonus + len(word)

    client = app.test_client()
    assert client.get("/rust/score/1?bonus=2&word=abc").json == {"result": 6}
    assert client.post("/python/score/1", json={"bonus": 2}).json == {"result": 3}
    missing = client.get("/score/1")
    assert (missing.status_code, missing.json["parameter"]) == (400, "bonus")
    ill_typed = client.post("/score/1", json={"bonus": "two"})
    assert (ill_typed.status_code, ill_typed.json["error"]) == (400, "invalid_parameter")
    for digits in ("\u0662", "\uff12"):  # non-ASCII digits in a query int, too
        assert client.get(f"/score/1?bonus={digits}").status_code == 400
