"""Shadow mode: Rust answers, Python is compared off the response's path."""

from __future__ import annotations

import logging
import threading

import pytest
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.kernels import sum_of_primes_naive
from flask_rustpath.shadow import ShadowMismatch


def shadow_app(**config) -> tuple[Flask, RustPath]:
    app = Flask("shadow_app")
    app.config.update({"TESTING": True, "RUSTPATH_BACKEND": "shadow", "RUSTPATH_SHADOW_RATE": 1.0})
    app.config.update(config)
    return app, RustPath(app)


def drain(app: Flask) -> None:
    assert app.extensions["rustpath"].executor(app.config).join(timeout=30)


def shadow_counts(rustpath: RustPath, app: Flask, route: str) -> dict[str, int]:
    return rustpath.stats(app).get(route, {}).get("shadow", {})


def wrong_pair(rustpath: RustPath) -> None:
    @rustpath.hot("/double/<int:x>", rust=lambda x: 2 * x + (x == 7))  # wrong for 7 only
    def double(x: int) -> int:
        return 2 * x


def test_shadow_serves_rust_and_records_a_mismatch(caplog) -> None:
    app, rustpath = shadow_app()
    wrong_pair(rustpath)
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        for x in (1, 7, 7, 7, 2):
            response = client.get(f"/double/{x}")
            assert response.headers["X-RustPath-Backend"] == "rust"
            assert response.json == {"result": 2 * x + (x == 7)}
        drain(app)
    counts = shadow_counts(rustpath, app, "double")
    assert counts["match"] == 2
    assert counts["mismatch"] == 3
    logged = [r.getMessage() for r in caplog.records if "shadow mismatch" in r.getMessage()]
    assert logged == ["shadow mismatch on hot route 'double' for {'x': 7}: python=14 rust=15"]


def test_builtin_route_agrees_in_shadow_mode() -> None:
    app = Flask("builtin_shadow")
    app.config.update(RUSTPATH_BACKEND="shadow", RUSTPATH_SHADOW_RATE=1.0)
    rustpath = RustPath(app)
    client = app.test_client()
    for n in (0, 2, 3, 1000, 99_991):
        assert client.get(f"/sum_of_primes/{n}").json == {"result": sum_of_primes_naive(n)}
    drain(app)
    assert shadow_counts(rustpath, app, "sum_of_primes")["match"] == 5
    assert shadow_counts(rustpath, app, "sum_of_primes")["mismatch"] == 0


def test_a_raising_python_side_never_changes_the_response() -> None:
    app, rustpath = shadow_app()

    @rustpath.hot("/fragile/<int:x>", rust=lambda x: x + 1)
    def fragile(x: int) -> int:
        raise RuntimeError("python side broke")

    client = app.test_client()
    for _ in range(3):
        response = client.get("/fragile/41")
        assert response.status_code == 200
        assert response.json == {"result": 42}
    drain(app)
    assert shadow_counts(rustpath, app, "fragile")["error"] == 3


def test_a_full_executor_drops_and_counts() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_WORKERS=1, RUSTPATH_SHADOW_QUEUE=1)
    release = threading.Event()
    started = threading.Event()

    def slow_python(x: int) -> int:
        started.set()
        release.wait(30)
        return x

    rustpath.hot("/slow/<int:x>", rust=lambda x: x, name="slow")(slow_python)
    client = app.test_client()
    client.get("/slow/1")  # taken by the one worker, which then blocks
    assert started.wait(10)
    client.get("/slow/2")  # fills the one queue slot
    for x in range(3, 8):  # nowhere to go: dropped
        assert client.get(f"/slow/{x}").json == {"result": x}
    release.set()
    drain(app)
    counts = shadow_counts(rustpath, app, "slow")
    assert counts["dropped"] == 5
    assert counts["match"] == 2


def test_jobs_that_waited_too_long_are_given_up() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_TIMEOUT=0.05)
    release = threading.Event()

    def slow_python(x: int) -> int:
        release.wait(0.3)
        return x

    rustpath.hot("/stale/<int:x>", rust=lambda x: x, name="stale")(slow_python)
    client = app.test_client()
    client.get("/stale/1")
    client.get("/stale/2")  # waits behind the first for ~0.3 s > 0.05 s
    drain(app)
    counts = shadow_counts(rustpath, app, "stale")
    assert counts["match"] == 1
    assert counts["timeout"] == 1


@pytest.mark.parametrize(("rate", "compared"), [(0, 0), (1, 40)])
def test_sampling_rate_zero_and_one_are_exact(rate: float, compared: int) -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RATE=rate)
    rustpath.hot("/id/<int:x>", rust=lambda x: x)(lambda x: x)
    client = app.test_client()
    for x in range(40):
        client.get(f"/id/{x}")
    drain(app)
    assert sum(shadow_counts(rustpath, app, "<lambda>").values()) == compared


def test_sampling_rate_between_is_roughly_honoured() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RATES={"half": 0.5})
    rustpath.hot("/half/<int:x>", rust=lambda x: x, name="half")(lambda x: x)
    client = app.test_client()
    for x in range(400):
        client.get(f"/half/{x}")
    drain(app)
    assert 120 <= shadow_counts(rustpath, app, "half")["match"] <= 280  # p < 1e-9 to fail


def test_inputs_above_the_python_limit_are_skipped() -> None:
    app, rustpath = shadow_app()
    rustpath.hot("/big/<int:x>", rust=lambda x: x, limits={"python": {"x": 10}})(lambda x: x)
    client = app.test_client()
    assert client.get("/big/11").json == {"result": 11}
    drain(app)
    assert shadow_counts(rustpath, app, "<lambda>")["skipped"] == 1


def test_custom_comparison_hook() -> None:
    app, rustpath = shadow_app()

    @rustpath.hot(
        "/third/<int:x>", rust=lambda x: x / 3 + 1e-12, compare=lambda a, b: abs(a - b) < 1e-9
    )
    def third(x: int) -> float:
        return x / 3

    app.test_client().get("/third/10")
    drain(app)
    assert shadow_counts(rustpath, app, "third")["match"] == 1


def test_raise_switch_makes_a_mismatch_fail_loudly() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RAISE=True)
    wrong_pair(rustpath)
    client = app.test_client()
    assert client.get("/double/3").json == {"result": 6}
    with pytest.raises(ShadowMismatch, match="python=14 rust=15"):
        client.get("/double/7")


def test_bad_rate_is_refused_at_start_up() -> None:
    app = Flask("bad_rate")
    app.config["RUSTPATH_SHADOW_RATE"] = 1.5
    with pytest.raises(Exception, match="RUSTPATH_SHADOW_RATE must be a number from 0 to 1"):
        RustPath(app)
