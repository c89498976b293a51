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


def test_bench_compares_both_sides_of_a_route(monkeypatch) -> None:
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    result = create_app().test_cli_runner().invoke(
        args=[
            "rustpath", "bench", "sum_of_primes", "--serve", "flask_rustpath.demo:create_app()",
            "-c", "1,2", "-d", "1", "--workers", "1",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = [line.split() for line in result.output.splitlines() if line.startswith("sum_of")]
    assert [row[1] for row in table] == ["1", "2"]
    for _, _, python, rust, ratio in table:
        assert float(python.replace(",", "")) > 0 and float(rust.replace(",", "")) > 0
        assert ratio.endswith("x")


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
