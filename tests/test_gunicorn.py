"""Real gunicorn, shipped config, real sockets on loopback."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flask_rustpath.support.metrics import FLUSH_SECONDS

from .servers import assert_hot_urls_answer, get, gunicorn

pytestmark = pytest.mark.slow


def test_shipped_config_serves_all_three_urls() -> None:
    with gunicorn() as base:
        for path, backend in [
            ("/rust/sum_of_primes/100000", "rust"),
            ("/python/sum_of_primes/100000", "python"),
            ("/sum_of_primes/100000", "rust"),
        ]:
            status, headers, body = get(base + path)
            assert status == 200, body
            assert json.loads(body) == {"result": 454_396_537}
            assert headers["X-RustPath-Backend"] == backend
            assert headers["Server-Timing"].startswith(f"{backend};dur=")
        status, headers, body = get(base + "/rust/sum_of_primes/nope")
        assert status == 404
        assert json.loads(body)["error"] == "invalid_argument"
        assert get(base + "/hello")[2] == b"Hello, World!"


def test_workers_forked_after_the_master_used_the_pool_do_not_hang() -> None:
    with gunicorn(
        "--preload",
        "tests.apps.preloaded:app",
        # RUSTPATH_THREADS=2: a real pool even on a one-core machine.
        env={"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2", "RUSTPATH_THREADS": "2"},
    ) as base:
        # n = 10^8 spans many segments, so each worker runs it on its rayon pool.
        url = base + "/rust/sum_of_primes/100000000"
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: get(url, timeout=30), range(16)))
    assert [status for status, _, _ in answers] == [200] * 16
    assert {json.loads(body)["result"] for _, _, body in answers} == {279_209_790_387_276}


def test_prometheus_counts_requests_across_two_workers(tmp_path) -> None:
    parser = pytest.importorskip("prometheus_client.parser")
    env = {
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    timed_key = (
        "rustpath_compute_seconds_count",
        (("kernel", "sum_of_primes"), ("side", "rust")),
    )
    refused_key = (
        "rustpath_requests_total",
        (("kernel", "sum_of_primes"), ("outcome", "limit_exceeded"), ("side", "python")),
    )
    sent = 0
    with gunicorn(env=env) as base:
        # Send batches until both workers have answered some (each writes its own
        # counter file, within FLUSH_SECONDS of its first call), so the total below
        # really is aggregated; at most 10 batches.
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(10):
                batch = [f"{base}/rust/sum_of_primes/{10**7 + sent + i}" for i in range(20)]
                assert [s for s, _, _ in pool.map(get, batch)] == [200] * len(batch)
                sent += len(batch)
                written = time.monotonic() + 4 * FLUSH_SECONDS
                while len(list(tmp_path.glob("counter_*.db"))) < 2:
                    if time.monotonic() > written:
                        break
                    time.sleep(FLUSH_SECONDS / 5)
                if len(list(tmp_path.glob("counter_*.db"))) >= 2:
                    break
        assert len(list(tmp_path.glob("counter_*.db"))) == 2
        get(f"{base}/python/sum_of_primes/2000000")  # one 422
        # Each worker writes its counts within FLUSH_SECONDS; scrape until they are in.
        deadline = time.monotonic() + 10 * FLUSH_SECONDS
        while True:
            status, _, body = get(f"{base}/rustpath/metrics")
            assert status == 200
            values = {}
            for family in parser.text_string_to_metric_families(body.decode()):
                for s in family.samples:
                    values[s.name, tuple(sorted(s.labels.items()))] = s.value
            settled = values.get(timed_key) == sent and values.get(refused_key) == 1
            if settled or time.monotonic() > deadline:
                break
            time.sleep(FLUSH_SECONDS / 5)
    ok = (
        "rustpath_requests_total",
        (("kernel", "sum_of_primes"), ("outcome", "ok"), ("side", "rust")),
    )
    refused = (
        "rustpath_requests_total",
        (("kernel", "sum_of_primes"), ("outcome", "limit_exceeded"), ("side", "python")),
    )
    timed = ("rustpath_compute_seconds_count", (("kernel", "sum_of_primes"), ("side", "rust")))
    assert values[ok] == sent
    assert values[refused] == 1
    assert values[timed] == sent


def test_a_missing_metrics_directory_never_changes_a_hot_response(tmp_path) -> None:
    pytest.importorskip("prometheus_client")
    env = {"WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}
    with gunicorn(env=env) as base:
        for _ in range(3):
            assert_hot_urls_answer(base)
        # Metrics are written off the request path, within FLUSH_SECONDS: wait for it.
        deadline = time.monotonic() + 10 * FLUSH_SECONDS
        while True:
            status, _, body = get(base + "/healthz")
            assert status == 200
            if json.loads(body)["status"] == "degraded" or time.monotonic() > deadline:
                break
            time.sleep(FLUSH_SECONDS / 5)
    assert json.loads(body)["status"] == "degraded"


def test_a_metrics_directory_deleted_at_run_time_never_changes_a_hot_response(tmp_path) -> None:
    pytest.importorskip("prometheus_client")
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    with gunicorn(env=env) as base:
        assert_hot_urls_answer(base)
        shutil.rmtree(directory)
        for _ in range(3):
            assert_hot_urls_answer(base)
        # A kernel and outcomes no worker has recorded yet need new metric files.
        status, _, body = get(base + "/sieve/sum_of_primes/1000")
        assert (status, json.loads(body)) == (200, {"result": 76127})
        assert get(base + "/healthz")[0] == 200
