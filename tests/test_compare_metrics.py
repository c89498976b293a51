"""The compare endpoint, the stats API and the Prometheus endpoint."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.demo import create_app

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_compare_is_404_when_disabled(client) -> None:
    response = client.get("/rustpath/compare/sum_of_primes/100000")
    assert response.status_code == 404
    assert response.json["error"] == "not_enabled"


def test_compare_is_on_in_debug_mode_by_default() -> None:
    app = create_app({"DEBUG": True})
    assert app.test_client().get("/rustpath/compare/sum_of_primes/100").status_code == 200


def test_compare_returns_both_results_times_speedup_and_match() -> None:
    client = create_app({"RUSTPATH_COMPARE": True}).test_client()
    body = client.get("/rustpath/compare/sum_of_primes/100000").json
    assert body["route"] == "sum_of_primes"
    assert body["args"] == {"n": 100000}
    assert body["python"]["result"] == body["rust"]["result"] == 454_396_537
    assert body["python"]["ms"] > 0 and body["rust"]["ms"] > 0
    assert body["speedup"] == pytest.approx(body["python"]["ms"] / body["rust"]["ms"])
    assert body["match"] is True


def test_compare_reports_a_mismatch() -> None:
    app = Flask("cmp")
    app.config.update(RUSTPATH_COMPARE=True, RUSTPATH_BUILTINS=False)
    rustpath = RustPath(app)
    rustpath.hot("/inc/<int:x>", rust=lambda x: x + 2, name="inc")(lambda x: x + 1)
    body = app.test_client().get("/rustpath/compare/inc/1").json
    assert (body["python"]["result"], body["rust"]["result"], body["match"]) == (2, 3, False)


def test_compare_honours_the_limits() -> None:
    client = create_app({"RUSTPATH_COMPARE": True}).test_client()
    response = client.get("/rustpath/compare/sum_of_primes/1000001")
    assert response.status_code == 422
    assert response.json["backend"] == "python"
    assert client.get("/rustpath/compare/sum_of_primes/x").json["error"] == "invalid_argument"


def test_stats_count_requests_errors_and_times() -> None:
    app = create_app()
    rustpath = app.extensions["rustpath"]
    client = app.test_client()
    for n in (10, 100, 1000):
        client.get(f"/rust/sum_of_primes/{n}")
    client.get("/python/sum_of_primes/10")
    client.get("/python/sum_of_primes/2000000")  # 422
    stats = rustpath.metrics.snapshot()["sum_of_primes"]
    assert stats["rust"]["requests"] == 3 and stats["rust"]["errors"] == {}
    assert stats["rust"]["mean_ms"] > 0
    assert stats["python"]["requests"] == 2
    assert stats["python"]["errors"] == {"limit_exceeded": 1}


def test_stats_api_on_the_extension() -> None:
    from flask_rustpath.demo import rustpath

    app = create_app()
    app.test_client().get("/sum_of_primes/10")
    assert rustpath.stats(app)["sum_of_primes"]["rust"]["requests"] == 1


def test_prometheus_endpoint_counts_requests() -> None:
    app = Flask("prom")
    app.config["RUSTPATH_BUILTINS"] = False
    rustpath = RustPath(app)
    rustpath.hot("/prom_sq/<int:x>", rust=lambda x: x * x, name="prom_sq")(lambda x: x * x)
    client = app.test_client()
    for x in range(5):
        client.get(f"/rust/prom_sq/{x}")
    client.get("/python/prom_sq/3")
    response = client.get("/rustpath/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    rust_ok = (
        "rustpath_requests_total",
        (("backend", "rust"), ("outcome", "ok"), ("route", "prom_sq")),
    )
    assert found[rust_ok] == 5
    count = ("rustpath_compute_seconds_count", (("backend", "python"), ("route", "prom_sq")))
    assert found[count] == 1


def test_metrics_endpoint_can_be_turned_off() -> None:
    app = create_app({"RUSTPATH_METRICS": False})
    assert app.test_client().get("/rustpath/metrics").status_code == 404
