"""Shadow mode at the kernel: Rust answers, Python is compared off the response's path."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import types

import pytest
from flask import Flask

from flask_rustpath import Kernel, RustPath
from flask_rustpath.core.errors import Misconfigured
from flask_rustpath.core.shadow import ShadowMismatch
from flask_rustpath.demo import create_app
from flask_rustpath.demo import rustpath as demo_rustpath
from flask_rustpath.kernels import sum_of_primes_naive

PID = f"[pid {os.getpid()}]"


def shadow_app(**config) -> tuple[Flask, RustPath]:
    """Shadow on every call; comparisons on a thread unless a test asks for processes
    (the thread pool lets a test's local functions and events take part)."""
    app = Flask("shadow_app")
    app.config.update(
        TESTING=True,
        RUSTPATH_BACKEND="shadow",
        RUSTPATH_SHADOW_RATE=1.0,
        RUSTPATH_SHADOW_POOL="thread",
    )
    app.config.update(config)
    return app, RustPath(app)


def drain(rustpath: RustPath, app: Flask) -> None:
    assert rustpath.join_shadow(app, timeout=60)


def shadow_counts(rustpath: RustPath, app: Flask, kernel: str) -> dict[str, int]:
    return rustpath.stats(app).get(kernel, {}).get("shadow", {})


def wrong_pair(rustpath: RustPath) -> None:
    @rustpath.hot("/double/<int:x>", rust=lambda x: 2 * x + (x == 7))  # wrong for 7 only
    def double(x: int) -> int:
        return 2 * x


# Module-level, so a spawned pool process can import them by name.
def report_pid(tag: int) -> int:
    """The pid of the process that runs the reference: differs from Rust's in a pool."""
    return os.getpid()


def wrong_for_seven(x: int) -> int:
    return 2 * x


pid_kernel = Kernel(report_pid, rust=lambda tag: os.getpid(), name="pid")
seven_kernel = Kernel(wrong_for_seven, rust=lambda x: 2 * x + (x == 7), name="seven")


def mismatch_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "shadow mismatch" in r.getMessage()]


def test_shadow_serves_rust_and_records_a_mismatch(caplog) -> None:
    app, rustpath = shadow_app()
    wrong_pair(rustpath)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_rustpath"):
        for x in (1, 7, 7, 7, 2):
            response = client.get(f"/double/{x}")
            assert response.headers["X-RustPath-Backend"] == "rust"
            assert response.json == {"result": 2 * x + (x == 7)}
        drain(rustpath, app)
    counts = shadow_counts(rustpath, app, "double")
    assert counts["match"] == 2
    assert counts["mismatch"] == 3
    # Rate-limited: three mismatches in one interval make one line, naming the pid.
    assert mismatch_lines(caplog) == [
        f"{PID} shadow mismatch on kernel 'double' for {{'x': 7}}: python=14 rust=15"
    ]


def test_the_reference_runs_in_a_process_pool_by_default(caplog) -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_POOL="process")
    rustpath.route("/pid/<int:tag>", pid_kernel)
    rustpath.route("/seven/<int:x>", seven_kernel)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_rustpath"):
        assert client.get("/pid/1").json == {"result": os.getpid()}
        assert client.get("/seven/7").json == {"result": 15}
        assert client.get("/seven/3").json == {"result": 6}
        drain(rustpath, app)
    # The reference saw another pid: it ran in a pool process, not a thread of ours.
    assert shadow_counts(rustpath, app, "pid")["mismatch"] == 1
    (line,) = [m for m in mismatch_lines(caplog) if "'pid'" in m]
    python_pid = int(re.search(r"python=(\d+)", line)[1])
    assert python_pid != os.getpid()
    seven = shadow_counts(rustpath, app, "seven")
    assert (seven["match"], seven["mismatch"]) == (1, 1)


def test_process_is_the_default_pool() -> None:
    app = Flask("default_pool")
    app.config.update(RUSTPATH_BACKEND="shadow", RUSTPATH_SHADOW_RATE=1.0)
    rustpath = RustPath(app)
    rustpath.route("/pid/<int:tag>", pid_kernel)
    app.test_client().get("/pid/1")
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "pid")["mismatch"] == 1


def test_the_thread_pool_runs_the_reference_in_this_process() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_POOL="thread")
    rustpath.route("/pid/<int:tag>", pid_kernel)
    app.test_client().get("/pid/1")
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "pid")["match"] == 1


def test_builtin_kernel_agrees_in_shadow_mode() -> None:
    app = create_app({"TESTING": True, "RUSTPATH_BACKEND": "shadow", "RUSTPATH_SHADOW_RATE": 1.0})
    client = app.test_client()
    for n in (0, 2, 3, 1000, 99_991):
        assert client.get(f"/sum_of_primes/{n}").json == {"result": sum_of_primes_naive(n)}
    drain(demo_rustpath, app)
    counts = shadow_counts(demo_rustpath, app, "sum_of_primes")
    assert counts["match"] == 5
    assert counts["mismatch"] == 0


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
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "fragile")["error"] == 3


def test_a_raising_compare_hook_never_changes_the_response() -> None:
    app, rustpath = shadow_app()

    def broken_compare(python_result: int, rust_result: int) -> bool:
        raise ZeroDivisionError

    rustpath.hot("/cmp/<int:x>", rust=lambda x: x, name="cmp", compare=broken_compare)(lambda x: x)
    assert app.test_client().get("/cmp/5").json == {"result": 5}
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "cmp")["error"] == 1


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
    drain(rustpath, app)
    counts = shadow_counts(rustpath, app, "slow")
    assert counts["dropped"] == 5
    assert counts["match"] == 2


def test_jobs_that_waited_too_long_are_given_up(monkeypatch) -> None:
    """The queue's clock is moved on by hand: no sleeping, no wall-clock race."""
    import flask_rustpath.support.executor

    offset = [0.0]
    fake_time = types.SimpleNamespace(
        monotonic=lambda: time.monotonic() + offset[0], sleep=time.sleep
    )
    monkeypatch.setattr(flask_rustpath.support.executor, "time", fake_time)
    app, rustpath = shadow_app(RUSTPATH_SHADOW_TIMEOUT=5.0)
    started, release = threading.Event(), threading.Event()

    def slow_python(x: int) -> int:
        if x == 1:
            started.set()
            assert release.wait(30)
        return x

    rustpath.hot("/stale/<int:x>", rust=lambda x: x, name="stale")(slow_python)
    client = app.test_client()
    client.get("/stale/1")
    assert started.wait(30)
    client.get("/stale/2")  # queued behind the first…
    offset[0] += 10.0  # …for 10 s by the queue's clock, above the 5 s allowed
    release.set()
    drain(rustpath, app)
    counts = shadow_counts(rustpath, app, "stale")
    assert counts["match"] == 1
    assert counts["timeout"] == 1


@pytest.mark.parametrize(("rate", "compared"), [(0, 0), (1, 40)])
def test_sampling_rate_zero_and_one_are_exact(rate: float, compared: int) -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RATE=rate)
    rustpath.hot("/id/<int:x>", rust=lambda x: x, name="ident")(lambda x: x)
    client = app.test_client()
    for x in range(40):
        client.get(f"/id/{x}")
    drain(rustpath, app)
    assert sum(shadow_counts(rustpath, app, "ident").values()) == compared


def test_sampling_rate_between_is_roughly_honoured() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RATES={"half": 0.5}, RUSTPATH_SHADOW_QUEUE=1000)
    rustpath.hot("/half/<int:x>", rust=lambda x: x, name="half")(lambda x: x)
    client = app.test_client()
    for x in range(400):
        client.get(f"/half/{x}")
    drain(rustpath, app)
    assert 120 <= shadow_counts(rustpath, app, "half")["match"] <= 280  # p < 1e-9 to fail


def test_the_kernels_own_rate_is_below_the_per_kernel_config() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RATES={"own": 0.0})
    rustpath.hot("/own/<int:x>", rust=lambda x: x, name="own", shadow_rate=1.0)(lambda x: x)
    rustpath.hot("/own2/<int:x>", rust=lambda x: x, name="own2", shadow_rate=0.0)(lambda x: x)
    client = app.test_client()
    for x in range(10):
        client.get(f"/own/{x}")
        client.get(f"/own2/{x}")
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "own") == {}  # config 0.0 beats the decorator's 1.0
    assert shadow_counts(rustpath, app, "own2") == {}  # the decorator's 0.0 beats global 1.0


def test_inputs_above_the_python_limit_are_skipped() -> None:
    app, rustpath = shadow_app()
    rustpath.hot("/big/<int:x>", rust=lambda x: x, name="big", limits={"python": {"x": 10}})(
        lambda x: x
    )
    client = app.test_client()
    assert client.get("/big/11").json == {"result": 11}
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "big")["skipped"] == 1


def test_custom_comparison_hook() -> None:
    app, rustpath = shadow_app()

    @rustpath.hot(
        "/third/<int:x>", rust=lambda x: x / 3 + 1e-12, compare=lambda a, b: abs(a - b) < 1e-9
    )
    def third(x: int) -> float:
        return x / 3

    app.test_client().get("/third/10")
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "third")["match"] == 1


def test_raise_switch_makes_a_mismatch_fail_loudly_on_a_hot_route() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RAISE=True)
    wrong_pair(rustpath)
    client = app.test_client()
    assert client.get("/double/3").json == {"result": 6}
    with pytest.raises(ShadowMismatch, match="python=14 rust=15"):
        client.get("/double/7")


def test_raise_switch_makes_a_mismatch_fail_loudly_in_a_paired_view() -> None:
    app, rustpath = shadow_app(RUSTPATH_SHADOW_RAISE=True)
    rustpath.add_kernel(seven_kernel)

    @app.route("/page/<int:x>")
    @rustpath.paired
    def page(x: int) -> str:
        return f"twice is {seven_kernel(x)}"

    client = app.test_client()
    assert client.get("/page/3").get_data(as_text=True) == "twice is 6"
    with pytest.raises(ShadowMismatch, match="python=14 rust=15"):
        client.get("/page/7")


def test_pinned_sides_are_never_shadowed() -> None:
    app, rustpath = shadow_app()
    wrong_pair(rustpath)
    client = app.test_client()
    assert client.get("/rust/double/7").json == {"result": 15}
    assert client.get("/python/double/7").json == {"result": 14}
    drain(rustpath, app)
    assert shadow_counts(rustpath, app, "double") == {}


def test_bad_rate_is_refused_at_start_up() -> None:
    app = Flask("bad_rate")
    app.config["RUSTPATH_SHADOW_RATE"] = 1.5
    with pytest.raises(Misconfigured, match="RUSTPATH_SHADOW_RATE must be a number from 0 to 1"):
        RustPath(app)


def test_a_bad_per_kernel_rate_is_refused_when_the_kernel_is_registered() -> None:
    _, rustpath = shadow_app(RUSTPATH_SHADOW_RATES={"bad": 2})
    with pytest.raises(Misconfigured, match=r"RUSTPATH_SHADOW_RATES\['bad'\] must be a number"):
        rustpath.hot("/bad/<int:x>", rust=lambda x: x, name="bad")(lambda x: x)


# --- a bounded mismatch log -------------------------------------------------------------------


@pytest.mark.parametrize(
    "count",
    [
        200,
        pytest.param(10_050, marks=pytest.mark.slow),
    ],  # above the 10,000 inputs the old log kept
)
def test_mismatch_lines_are_rate_limited_with_a_count_of_those_held_back(
    monkeypatch, caplog, count: int
) -> None:
    """Many distinct mismatching inputs make one line per interval; the next line says
    how many were held back. The log's clock is moved on by hand."""
    import flask_rustpath.support.logs

    offset = [0.0]
    monkeypatch.setattr(
        flask_rustpath.support.logs,
        "time",
        types.SimpleNamespace(monotonic=lambda: time.monotonic() + offset[0]),
    )
    app, rustpath = shadow_app(RUSTPATH_SHADOW_QUEUE=count + 10, RUSTPATH_LOG_INTERVAL=60.0)
    rustpath.hot("/off/<int:x>", rust=lambda x: x + 1, name="off")(lambda x: x)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_rustpath"):
        for x in range(count):
            assert client.get(f"/off/{x}").json == {"result": x + 1}
        drain(rustpath, app)
        assert mismatch_lines(caplog) == [
            f"{PID} shadow mismatch on kernel 'off' for {{'x': 0}}: python=0 rust=1"
        ]
        offset[0] += 61.0  # the interval has passed
        client.get(f"/off/{count}")
        drain(rustpath, app)
    lines = mismatch_lines(caplog)
    assert len(lines) == 2
    assert lines[1] == (
        f"{PID} shadow mismatch on kernel 'off' for {{'x': {count}}}: "
        f"python={count} rust={count + 1} ({count - 1} more like this since the last one)"
    )
    counts = shadow_counts(rustpath, app, "off")
    assert counts["mismatch"] == count + 1
    assert counts["dropped"] == 0
