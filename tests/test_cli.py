"""``flask rustpath`` through Flask's CliRunner, and the parity helper behind ``check``."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.demo import create_app
from flask_rustpath.testing import ParityError, assert_parity


def planted_mismatch_app() -> Flask:
    app = Flask("planted")
    app.config.update(RUSTPATH_BUILTINS=False)
    rustpath = RustPath(app)

    @rustpath.hot("/triple/<int:x>", rust=lambda x: 3 * x if x < 500 else 3 * x + 1)
    def triple(x: int) -> int:
        return 3 * x

    @rustpath.hot("/echo/<word>", rust=lambda word: word)
    def echo(word: str) -> str:
        return word

    return app


def test_routes_lists_every_hot_route() -> None:
    result = create_app().test_cli_runner().invoke(args=["rustpath", "routes"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "ROUTE", "RULE", "PYTHON", "RUST", "TARGET", "IMPORTS", "FRESH", "BACKEND"
    ]  # fmt: skip
    row = next(line for line in lines if line.startswith("sum_of_primes "))
    assert row.split() == [
        "sum_of_primes",
        "/sum_of_primes/<int:n>",
        "flask_rustpath.builtins:sum_of_primes",
        "flask_rustpath._native:sum_of_primes",
        "yes",
        "yes",
        "rust",
    ]


def test_routes_reports_a_target_that_does_not_import() -> None:
    app = Flask("missing")
    app.config["RUSTPATH_BUILTINS"] = False
    RustPath(app).hot("/m/<int:x>", rust="no_such_module_xyz:f", name="m")(lambda x: x)
    result = app.test_cli_runner().invoke(args=["rustpath", "routes"])
    assert "NO" in result.output.splitlines()[1].split()
    assert "No module named 'no_such_module_xyz'" in result.output


def test_compare_prints_timings_speedup_and_match() -> None:
    runner = create_app().test_cli_runner()
    for args in (["100000"], ["n=100000"]):
        result = runner.invoke(args=["rustpath", "compare", "sum_of_primes", *args])
        assert result.exit_code == 0, result.output
        python, rust, speedup, match = result.output.splitlines()
        assert python.split()[0] == "python" and python.split()[-1] == "454396537"
        assert rust.split()[0] == "rust" and rust.split()[-1] == "454396537"
        assert float(speedup.split()[1]) > 0
        assert match.split() == ["match", "yes"]


def test_compare_rejects_bad_input_and_unknown_routes() -> None:
    runner = create_app().test_cli_runner()
    bad = runner.invoke(args=["rustpath", "compare", "sum_of_primes", "abc"])
    assert bad.exit_code == 1
    assert "'abc' is not a valid value for n in /sum_of_primes/<int:n>" in bad.output
    over = runner.invoke(args=["rustpath", "compare", "sum_of_primes", "2000000"])
    assert over.exit_code == 1 and "above the python limit" in over.output
    unknown = runner.invoke(args=["rustpath", "compare", "nope", "1"])
    assert unknown.exit_code == 2 and "known: sum_of_primes" in unknown.output
    extra = runner.invoke(args=["rustpath", "compare", "sum_of_primes", "1", "2"])
    assert extra.exit_code == 2


def test_compare_exits_1_on_a_mismatch() -> None:
    result = (
        planted_mismatch_app()
        .test_cli_runner()
        .invoke(args=["rustpath", "compare", "triple", "600"])
    )
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].split() == ["match", "NO"]


def test_check_passes_on_sum_of_primes() -> None:
    result = (
        create_app()
        .test_cli_runner()
        .invoke(args=["rustpath", "check", "sum_of_primes", "--examples", "50"])
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok    sum_of_primes: 51 inputs agree")


def test_check_exits_1_and_shows_the_failing_input() -> None:
    result = planted_mismatch_app().test_cli_runner().invoke(args=["rustpath", "check"])
    assert result.exit_code == 1
    assert "FAIL  triple: triple: python and rust disagree on {'x': 500}" in result.output
    assert "ok    echo:" in result.output


def test_assert_parity_uses_given_inputs_and_custom_strategies() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    app = planted_mismatch_app()
    with pytest.raises(ParityError, match="'x': 777"):
        assert_parity("triple", app=app, inputs=[{"x": 1}, {"x": 777}], max_examples=0)
    rustpath = app.extensions["rustpath"]
    assert rustpath.routes["triple"].strategy is None
    app2 = Flask("strategy")
    app2.config["RUSTPATH_BUILTINS"] = False
    strategy = hypothesis.strategies.fixed_dictionaries({"x": hypothesis.strategies.just(3)})
    # The sides agree on x=3 only: inputs from the converter instead of the strategy
    # would find a disagreement.
    RustPath(app2).hot(
        "/s/<int:x>", rust=lambda x: x if x == 3 else -x, name="s", strategy=strategy
    )(lambda x: x)
    assert assert_parity("s", app=app2, max_examples=20) >= 1


def test_both_sides_failing_the_same_way_counts_as_agreement() -> None:
    app = Flask("both_fail")
    app.config["RUSTPATH_BUILTINS"] = False

    def refuse(x: int) -> int:
        raise ValueError("no")

    RustPath(app).hot("/r/<int:x>", rust=refuse, name="r")(refuse)
    assert assert_parity("r", app=app, inputs=[{"x": 1}], max_examples=0) == 1


def test_the_pytest_fixture(rustpath_parity) -> None:
    assert rustpath_parity("sum_of_primes", max_examples=20) >= 20
