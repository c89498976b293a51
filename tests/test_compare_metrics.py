"""The compare endpoint, the stats API, the Prometheus endpoint, and metrics that fail."""

from __future__ import annotations

import json
import logging
import os
import textwrap

import pytest
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.demo import create_app
from flask_rustpath.state import get_state
from flask_rustpath.support.metrics import Metrics, flush_all

from . import support

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_compare_is_404_when_disabled(client) -> None:
    response = client.get("/rustpath/compare/sum_of_primes?n=100000")
    assert response.status_code == 404
    assert response.json["error"] == "not_enabled"


def test_compare_is_on_in_debug_mode_by_default() -> None:
    app = create_app({"DEBUG": True})
    assert app.test_client().get("/rustpath/compare/sum_of_primes?n=100").status_code == 200


def test_compare_returns_both_results_times_speedup_and_match() -> None:
    client = create_app({"RUSTPATH_COMPARE": True}).test_client()
    body = client.get("/rustpath/compare/sum_of_primes?n=100000").json
    assert body["kernel"] == "sum_of_primes"
    assert body["args"] == {"n": 100000}
    assert body["python"]["result"] == body["rust"]["result"] == 454_396_537
    assert body["python"]["ms"] > 0 and body["rust"]["ms"] > 0
    assert body["speedup"] == pytest.approx(body["python"]["ms"] / body["rust"]["ms"])
    assert body["match"] is True


def test_compare_reports_a_mismatch() -> None:
    app = Flask("cmp")
    app.config.update(RUSTPATH_COMPARE=True)
    rustpath = RustPath(app)

    @rustpath.hot("/inc/<int:x>", rust=lambda x: x + 2)
    def inc(x: int) -> int:
        return x + 1

    body = app.test_client().get("/rustpath/compare/inc?x=1").json
    assert (body["python"]["result"], body["rust"]["result"], body["match"]) == (2, 3, False)


def test_compare_works_on_a_kernel_without_a_route() -> None:
    app = Flask("cmp_kernel")
    app.config.update(RUSTPATH_COMPARE=True)
    rustpath = RustPath(app)

    @rustpath.kernel(rust=lambda text: len(text.split()))
    def words(text: str) -> int:
        return len(text.split())

    body = app.test_client().get("/rustpath/compare/words?text=a+b+c").json
    assert (body["python"]["result"], body["rust"]["result"], body["match"]) == (3, 3, True)


def test_compare_honours_the_limits_and_checks_its_parameters() -> None:
    client = create_app({"RUSTPATH_COMPARE": True}).test_client()
    response = client.get("/rustpath/compare/sum_of_primes?n=1000001")
    assert response.status_code == 422
    assert response.json["side"] == "python"
    ill_typed = client.get("/rustpath/compare/sum_of_primes?n=x")
    assert (ill_typed.status_code, ill_typed.json["error"]) == (400, "invalid_parameter")
    missing = client.get("/rustpath/compare/sum_of_primes")
    assert (missing.status_code, missing.json["parameter"]) == (400, "n")
    unknown = client.get("/rustpath/compare/nope?n=1")
    assert (unknown.status_code, unknown.json["error"]) == (404, "not_found")


def test_stats_count_requests_errors_and_times() -> None:
    app = create_app()
    state = app.extensions["rustpath"]
    client = app.test_client()
    for n in (10, 100, 1000):
        client.get(f"/rust/sum_of_primes/{n}")
    client.get("/python/sum_of_primes/10")
    assert client.get("/python/sum_of_primes/2000000").status_code == 422
    stats = state.metrics.snapshot()["sum_of_primes"]
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
        (("kernel", "prom_sq"), ("outcome", "ok"), ("side", "rust")),
    )
    assert found[rust_ok] == 5
    count = ("rustpath_compute_seconds_count", (("kernel", "prom_sq"), ("side", "python")))
    assert found[count] == 1


def test_metrics_endpoint_can_be_turned_off() -> None:
    app = create_app({"RUSTPATH_METRICS": False})
    assert app.test_client().get("/rustpath/metrics").status_code == 404


# --- a broken metrics sink never changes a response -------------------------------------------


def break_prometheus(monkeypatch) -> None:
    """Every Prometheus child fails, as with a deleted multiprocess directory."""

    def broken_child(self, metric: str, *labels: str):
        raise FileNotFoundError(f"/var/run/prom/{metric}_{os.getpid()}.db")

    monkeypatch.setattr(Metrics, "_child", broken_child)


def test_a_broken_metrics_sink_never_changes_a_hot_response(monkeypatch, caplog) -> None:
    healthy = create_app({"TESTING": True}).test_client()
    paths = [
        "/sum_of_primes/100",
        "/python/sum_of_primes/100",
        "/rust/sum_of_primes/100",
        "/rust/sum_of_primes/x",
        "/python/sum_of_primes/2000000",
        "/rustpath/sum_of_primes/10",
    ]
    expected = {path: healthy.get(path) for path in paths}
    # Write every live app's queued calls now (earlier tests' apps too): the flusher
    # must find nothing but this test's broken app to write once Prometheus is broken.
    flush_all()
    break_prometheus(monkeypatch)
    from flask_rustpath.demo import rustpath

    app = create_app({"TESTING": True})
    assert rustpath.health(app) == {"status": "ok"}
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="flask_rustpath"):
        for _ in range(3):
            for path in paths:
                response = client.get(path)
                assert response.status_code == expected[path].status_code, path
                assert response.get_data() == expected[path].get_data(), path
        # Prometheus is fed off the request path; apply what the background flusher
        # would within FLUSH_SECONDS, in this thread.
        get_state(app).metrics.flush()
        get_state(app).metrics.flush()
    health = rustpath.health(app)
    assert health["status"] == "degraded"
    assert "FileNotFoundError" in health["problems"]["metrics"]
    assert client.get("/healthz").json["status"] == "degraded"
    failing = [r for r in caplog.records if "metrics are failing" in r.getMessage()]
    assert len(failing) == 1  # reported once, not per request
    assert f"[pid {os.getpid()}]" in failing[0].getMessage()
    # The in-process counts are kept even though Prometheus failed.
    assert rustpath.stats(app)["sum_of_primes"]["rust"]["requests"] >= 3


def test_a_broken_metrics_sink_never_changes_a_shadowed_response(monkeypatch) -> None:
    break_prometheus(monkeypatch)
    app = Flask("shadow_broken_metrics")
    app.config.update(
        RUSTPATH_BACKEND="shadow", RUSTPATH_SHADOW_RATE=1.0, RUSTPATH_SHADOW_POOL="thread"
    )
    rustpath = RustPath(app)
    rustpath.hot("/off/<int:x>", rust=lambda x: x + 1, name="off")(lambda x: x)
    client = app.test_client()
    for x in range(5):
        assert client.get(f"/off/{x}").json == {"result": x + 1}
    assert rustpath.join_shadow(app, timeout=30)
    assert rustpath.stats(app)["off"]["shadow"]["mismatch"] == 5
    get_state(app).metrics.flush()  # what the background flusher does within FLUSH_SECONDS
    assert rustpath.health(app)["status"] == "degraded"


def test_a_missing_multiprocess_directory_never_changes_a_hot_response(tmp_path) -> None:
    """PROMETHEUS_MULTIPROC_DIR is read when prometheus-client is imported: a fresh
    interpreter, as a gunicorn worker would be."""
    script = textwrap.dedent(
        """
        import json
        from flask_rustpath.demo import create_app
        from flask_rustpath.state import get_state
        app = create_app({"TESTING": True})
        client = app.test_client()
        out = {}
        for path in ["/rust/sum_of_primes/100", "/sum_of_primes/100",
                     "/python/sum_of_primes/100", "/rust/sum_of_primes/x"]:
            response = client.get(path)
            out[path] = [response.status_code, response.get_data(as_text=True)]
        get_state(app).metrics.flush()  # as the background flusher would, within 0.5 s
        out["/healthz"] = client.get("/healthz").json
        print(json.dumps(out))
        """
    )
    missing = tmp_path / "gone" / "prometheus"
    result = support.run_python(["-c", script], {"PROMETHEUS_MULTIPROC_DIR": str(missing)})
    out = json.loads(result.stdout)
    for path in ("/rust/sum_of_primes/100", "/sum_of_primes/100", "/python/sum_of_primes/100"):
        assert out[path] == [200, '{"result":1060}\n'], path
    assert out["/rust/sum_of_primes/x"][0] == 404
    assert json.loads(out["/rust/sum_of_primes/x"][1])["error"] == "invalid_argument"
    assert out["/healthz"]["status"] == "degraded"
    assert result.stderr.count("metrics are failing") == 1
