"""Real gunicorn, shipped config, real sockets on loopback."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from .servers import get, gunicorn

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
        env={"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2"},
    ) as base:
        # n = 10^8 spans many segments, so each worker runs it on its rayon pool.
        url = base + "/rust/sum_of_primes/100000000"
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: get(url, timeout=30), range(16)))
    assert [status for status, _, _ in answers] == [200] * 16
    assert {json.loads(body)["result"] for _, _, body in answers} == {279_209_790_387_276}
