"""``flask rustpath bench``: real gunicorn, real hey, bounded, loopback only."""

from __future__ import annotations

import os
import shutil

import pytest

from flask_rustpath.demo import create_app

from . import support
from .apps import broken

pytestmark = pytest.mark.slow

if shutil.which("hey") is None:
    support.missing("hey is not installed (apt-get install hey)", allow_module_level=True)


def rows(output: str, name: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.split()[:1] == [name]]


def test_bench_compares_both_sides_of_a_json_route(monkeypatch) -> None:
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    result = create_app().test_cli_runner().invoke(
        args=[
            "rustpath", "bench", "sum_of_primes_sieve",
            "--serve", "flask_rustpath.demo:create_app()",
            "-c", "1,2", "-d", "1", "--workers", "1",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # at the kernel's first example, on both variants
    assert "hey /python/sieve/sum_of_primes/1000000 c=1" in result.output
    assert "hey /rust/sieve/sum_of_primes/1000000 c=2" in result.output
    table = rows(result.output, "sum_of_primes_sieve")
    assert [row[1] for row in table] == ["1", "2"]
    for _, _, python, rust, ratio in table:
        assert float(python.replace(",", "")) > 0 and float(rust.replace(",", "")) > 0
        assert ratio.endswith("x")


def test_bench_loads_a_paired_view_given_by_url(monkeypatch) -> None:
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    result = create_app().test_cli_runner().invoke(
        args=[
            "rustpath", "bench", "--url", "/sum_of_primes/1000",
            "--serve", "flask_rustpath.demo:create_app()", "-c", "1", "-d", "1", "--workers", "1",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hey /python/sum_of_primes/1000 c=1" in result.output
    [row] = rows(result.output, "/sum_of_primes/1000")
    assert float(row[2].replace(",", "")) > 0 and float(row[3].replace(",", "")) > 0
    assert not rows(result.output, "sum_of_primes_sieve")  # --url alone loads only that


def test_bench_refuses_a_url_that_is_not_a_paired_view() -> None:
    result = (
        create_app()
        .test_cli_runner()
        .invoke(args=["rustpath", "bench", "--url", "/hello", "--serve", "x:app", "-d", "1"])
    )
    assert result.exit_code == 1
    assert "'hello', which is not a paired view" in result.output


def test_bench_fails_a_route_that_answers_errors(monkeypatch) -> None:
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    result = broken.app.test_cli_runner().invoke(
        args=["rustpath", "bench", "--serve", "tests.apps.broken:app", "-c", "1", "-d", "1"]
    )
    assert result.exit_code == 1
    assert "FAILED" in result.output and "HTTP 500" in result.output


def test_bench_needs_to_know_what_to_serve() -> None:
    result = create_app().test_cli_runner().invoke(args=["rustpath", "bench", "-d", "1"])
    assert result.exit_code == 1
    assert "--serve" in result.output
