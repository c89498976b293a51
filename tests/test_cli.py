"""``flask rustpath routes/compare/check`` through Flask's CliRunner: kernels, paired views."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.core.texts import corpus_sentences
from flask_rustpath.demo import create_app as create_demo

from .apps.tools import create_app


def run(app: Flask, *args: str) -> Result:
    """``flask rustpath ARGS``: ``.output`` interleaves stdout and stderr; ``.stderr`` alone."""
    return app.test_cli_runner().invoke(args=["rustpath", *args])


def table(output: str, header: str) -> list[list[str]]:
    """The rows of the table whose header starts with ``header``, split on whitespace."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


# -- routes ------------------------------------------------------------------------------


def test_routes_lists_kernels_with_imports_freshness_and_backend() -> None:
    result = run(create_demo({"RUSTPATH_BACKENDS": {"sum_of_primes_sieve": "python"}}), "routes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == [
        "KERNEL", "PYTHON", "RUST", "TARGET", "IMPORTS", "FRESH", "BACKEND"
    ]  # fmt: skip
    rows = {row[0]: row for row in table(result.output, "KERNEL")}
    assert rows["sum_of_primes"] == [
        "sum_of_primes",
        "flask_rustpath.builtins:sum_of_primes",
        "flask_rustpath._native:sum_of_primes",
        "yes",
        "yes",
        "rust",
    ]
    assert rows["sum_of_primes_sieve"][-1] == "python"


def test_routes_shows_shadow_rate_and_a_target_that_does_not_import() -> None:
    app = create_app({"RUSTPATH_BACKENDS": {"shout": "shadow"}, "RUSTPATH_SHADOW_RATE": 0.25})
    result = run(app, "routes")
    rows = {row[0]: row for row in table(result.output, "KERNEL")}
    assert rows["shout"][-1] == "shadow:25%"
    assert rows["bounded"][3] == "NO"
    assert "bounded: " in result.stderr and "No module named 'no_such_module_for_tools'" in (
        result.stderr
    )


def test_routes_lists_paired_views_with_their_variants_and_json_routes() -> None:
    result = run(create_app(), "routes")
    views = {row[0]: row[1:] for row in table(result.output, "PAIRED VIEW")}
    assert views["blog.stats"] == [
        "/blog/stats/<int:post_id>",
        "GET",
        "/python/blog/stats/<int:post_id>",
        "/rust/blog/stats/<int:post_id>",
    ]
    assert views["blog.shout_view"][1] == "POST"
    assert "hello" not in views  # not paired
    routes = {row[0]: row[1:] for row in table(result.output, "JSON ROUTE")}
    assert routes["shout"] == ["/shout/<text>", "shout", "GET", "-"]
    assert routes["total"] == ["/total", "total", "POST", "items:list", "scale:int"]


def test_routes_follows_the_side_prefixes() -> None:
    app = create_app({"RUSTPATH_PYTHON_PREFIX": "/py", "RUSTPATH_RUST_PREFIX": "/rs"})
    views = {row[0]: row[1:] for row in table(run(app, "routes").output, "PAIRED VIEW")}
    assert views["blog.stats"][2:] == [
        "/py/blog/stats/<int:post_id>",
        "/rs/blog/stats/<int:post_id>",
    ]


# -- compare a kernel ----------------------------------------------------------------------


def compare_lines(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.strip()}


@pytest.mark.parametrize("args", [["100000"], ["n=100000"]])
def test_compare_a_kernel_prints_timings_speedup_and_match(args: list[str]) -> None:
    result = run(create_demo(), "compare", "sum_of_primes", *args)
    assert result.exit_code == 0, result.output
    lines = compare_lines(result.output)
    assert list(lines) == ["python", "rust", "speedup", "match"]
    assert lines["python"][-1] == lines["rust"][-1] == "454396537"
    assert float(lines["python"][0]) > 0 and float(lines["speedup"][0]) > 0
    assert lines["match"] == ["yes"]


def test_compare_converts_arguments_by_their_annotations() -> None:
    app = create_app()
    lines = compare_lines(run(app, "compare", "total", "[1, 2, 3]", "scale=2").output)
    assert lines["python"][-1] == "12" and lines["match"] == ["yes"]
    lines = compare_lines(run(app, "compare", "total", "items=[4]").output)  # default scale
    assert lines["rust"][-1] == "4"
    lines = compare_lines(run(app, "compare", "signed", "false", "1.5").output)
    assert lines["python"][-1] == "-1.5"
    # a text argument stays text, "=" and all, when it names no parameter
    result = run(app, "compare", "shout", "a=b")
    assert compare_lines(result.output)["python"][-1] == "'A=B'"


def test_compare_exits_1_on_a_mismatch() -> None:
    result = run(create_app(), "compare", "triple", "600")
    assert result.exit_code == 1
    assert compare_lines(result.output)["match"] == ["NO"]
    assert run(create_app(), "compare", "triple", "6").exit_code == 0


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["triple", "abc"], 1, "parameter 'x' must be int"),
        (["total", "[1,"], 1, "parameter 'items' must be JSON for list"),
        (["total", "{}"], 1, "parameter 'items' must be list"),
        (["signed", "maybe", "1"], 1, "parameter 'flag' must be bool"),
        (["triple"], 1, "missing parameter 'x'"),
        (["triple", "20000"], 1, "x=20000 is above the python limit of 10000"),
        (["triple", "1", "2"], 2, "kernel triple takes 1 argument(s): x"),
        (["nope", "1"], 2, "no kernel 'nope'; known: bounded, length, shout, signed, total"),
        (["bounded", "3"], 1, "the Rust side of kernel 'bounded' is unavailable"),
    ],
)
def test_compare_refuses_bad_input_with_a_message(
    args: list[str], code: int, expected: str
) -> None:
    result = run(create_app(), "compare", *args)
    assert result.exit_code == code, result.output
    assert expected in result.stderr


def test_no_limits_lifts_the_limits() -> None:
    result = run(create_app(), "compare", "triple", "20000", "--no-limits")
    assert result.exit_code == 1  # ran, and found the mismatch above 500
    assert compare_lines(result.output)["python"][-1] == "60000"


# -- compare a paired view's URL -------------------------------------------------------------


def test_compare_a_url_runs_both_variants_and_agrees() -> None:
    result = run(create_app(), "compare", "/blog/stats/3")
    assert result.exit_code == 0, result.output
    lines = compare_lines(result.output)
    assert lines["python"][2:] == ["200", "application/json", "22", "bytes"]
    assert lines["rust"][2:] == lines["python"][2:]
    assert lines["view"] == ["blog.stats"] and lines["match"] == ["yes"]


def test_compare_a_url_shows_a_body_difference_and_exits_1() -> None:
    result = run(create_app(), "compare", "/blog/stats/600")
    assert result.exit_code == 1
    assert "match   NO" in result.output
    assert '-{"post":600,"triple":1800}' in result.output
    assert '+{"post":600,"triple":1801}' in result.output


def test_compare_a_url_diffs_status_and_content_type() -> None:
    app = Flask("statuses")
    app.config["TESTING"] = True
    rustpath = RustPath(app)

    @rustpath.kernel(rust=lambda x: -x)  # refuses every input: Python returns, Rust 400s
    def negate(x: int) -> int:
        return -x

    @app.get("/negate/<int:x>")
    @rustpath.paired
    def view(x: int) -> Any:
        value = negate(x)
        return str(value) if value < 0 else {"value": value}

    result = run(app, "compare", "/negate/0")
    assert result.exit_code == 0, result.output
    result = run(app, "compare", "/negate/3")
    assert result.exit_code == 0  # -3 on both sides
    app2 = Flask("statuses2")
    app2.config["TESTING"] = True
    rustpath2 = RustPath(app2)

    def refuse(x: int) -> int:
        raise ValueError("no")

    @rustpath2.kernel(rust=refuse)
    def ident(x: int) -> int:
        return x

    @app2.get("/ident/<int:x>")
    @rustpath2.paired
    def view2(x: int) -> Any:
        return str(ident(x))

    result = run(app2, "compare", "/ident/3")
    assert result.exit_code == 1
    assert "status: python 200, rust 400" in result.output
    # A page's refusal is werkzeug's HTML page; a client asking for JSON gets JSON.
    assert "content type" not in result.output
    result = run(app2, "compare", "/ident/3", "-H", "Accept: application/json")
    assert result.exit_code == 1
    assert "content type: python 'text/html; charset=utf-8', rust 'application/json'" in (
        result.output
    )


def test_compare_a_url_with_a_json_body_and_headers() -> None:
    result = run(
        create_app(), "compare", "/blog/shout", "-X", "POST", "--json", '{"text": "ab"}',
        "-H", "X-Anything: 1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert compare_lines(result.output)["python"][2] == "200"
    json_route = run(create_app(), "compare", "/total", "-X", "POST", "--json", '{"items": [2]}')
    assert json_route.exit_code == 0, json_route.output


def test_compare_a_url_that_is_not_a_paired_view_is_refused() -> None:
    app = create_app()
    result = run(app, "compare", "/hello")
    assert result.exit_code == 1
    assert "'hello', which is not a paired view" in result.stderr
    result = run(app, "compare", "/no/such/page")
    assert result.exit_code == 1 and "matches no URL rule" in result.stderr
    result = run(app, "compare", "/blog/stats/3", "extra")
    assert result.exit_code == 2


def test_compare_a_url_answering_4xx_on_both_sides_is_not_compared() -> None:
    """abort(404) on both sides alike says nothing of the kernels: not a match."""
    result = run(create_app(), "compare", "/blog/stats/404")
    assert result.exit_code == 2, result.output
    assert compare_lines(result.output)["python"][2] == "404"
    assert "match   not compared: python answered 404, a client error; rust answered 404" in (
        result.output
    )
    assert "check the URL" in result.output
    assert "match   yes" not in result.output


# -- check -------------------------------------------------------------------------------


def test_check_passes_on_agreeing_kernels() -> None:
    result = run(create_app(), "check", "shout", "--examples", "50")
    assert result.exit_code == 0, result.output
    # 50 generated, one example, and each sentence of the corpus: shout takes text
    assert result.output == f"ok    shout: {51 + len(corpus_sentences())} inputs agree\n"


def test_check_exits_1_and_shows_the_shrunk_failing_input() -> None:
    result = run(create_app(), "check")
    assert result.exit_code == 1
    lines = {line.split()[1].rstrip(":"): line for line in result.output.splitlines()}
    assert lines["triple"].startswith("FAIL  triple: python and rust disagree on {'x': 500}")
    assert lines["length"].startswith("FAIL  length: python and rust disagree on {'text': '\\r'}")
    assert lines["shout"].startswith("ok    shout:")
    assert lines["total"].startswith("ok    total:")
    assert "No module named 'no_such_module_for_tools'" in lines["bounded"]


def test_check_of_an_unannotated_kernel_fails_and_says_why() -> None:
    app = Flask("unannotated")
    rustpath = RustPath(app)
    rustpath.kernel(rust=lambda x: x, name="bare")(lambda x: x)
    result = run(app, "check")
    assert result.exit_code == 1
    assert "cannot generate inputs" in result.output and "no type annotation" in result.output
    assert run(app, "check", "--examples", "0").exit_code == 0  # nothing to generate


def test_check_of_an_unknown_kernel() -> None:
    result = run(create_app(), "check", "nope")
    assert result.exit_code == 2 and "known: bounded" in result.stderr
