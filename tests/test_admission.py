"""Admission: no cap by default; a deliberate cap waits a bounded time, then sheds.

Calls are held open with events, never with sleeps: the properties are about who is
refused and which slots come back, not about time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from flask import Flask, render_template_string

from flask_rustpath import RustPath
from flask_rustpath.admission import Gate
from flask_rustpath.errors import Misconfigured
from flask_rustpath.state import get_state

release = threading.Event()
entered = threading.Semaphore(0)


def held(n: int) -> int:
    """Signal that a call is inside the kernel, then wait to be released."""
    entered.release()
    assert release.wait(30), "the test never released the held call"
    return n


def _app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(RUSTPATH_BACKEND="python", **config)
    rustpath = RustPath(app)
    rustpath.hot("/slow/<int:n>", rust=held, concurrency={"python": 1})(held)
    rustpath.hot("/other/<int:n>", rust=held, name="other")(held)
    kernel = rustpath.kernel(rust=held, name="page_kernel", concurrency={"python": 1})(held)

    @app.get("/page/<int:n>")
    def page(n: int) -> str:
        return render_template_string("<p>{{ total }}</p>", total=kernel(n))

    return app


@pytest.fixture
def app() -> Iterator[Flask]:
    release.clear()
    # A cap that refuses at once: the refusals below need no clock.
    app = _app(RUSTPATH_CONCURRENCY={"python": 3, "rust": 3}, RUSTPATH_ADMISSION_WAIT=0)
    yield app
    release.set()


def _hold(app: Flask, path: str, answers: list[int] | None = None) -> threading.Thread:
    def get() -> None:
        status = app.test_client().get(path).status_code
        if answers is not None:
            answers.append(status)

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    assert entered.acquire(timeout=30), f"{path} never entered its kernel"
    return thread


def test_by_default_no_call_is_refused_whatever_the_concurrency() -> None:
    """Twelve calls inside one Python kernel at once, on the Python rollback: the
    default takes no slot, so the server's own threads are the only bound."""
    release.clear()
    app = _app()
    assert get_state(app).settings.concurrency == {"python": None, "rust": None}
    answers: list[int] = []
    holders = [_hold(app, f"/other/{i}", answers) for i in range(12)]
    release.set()
    for holder in holders:
        holder.join(30)
    assert answers == [200] * 12


def test_a_kernels_own_cap_refuses_its_second_call_but_not_other_kernels(app: Flask) -> None:
    holder = _hold(app, "/slow/1")
    client = app.test_client()
    refused = client.get("/slow/2")
    assert refused.status_code == 503
    assert refused.json["error"] == "overloaded"
    assert "no slot freed within 0.0 s" in refused.json["message"]
    assert refused.headers["Retry-After"] == "1"
    other = _hold(app, "/other/3")  # the worker-wide slots still have room
    release.set()
    holder.join(30)
    other.join(30)
    assert client.get("/slow/4").json == {"result": 4}


def test_a_capped_call_waits_for_a_slot_instead_of_being_refused() -> None:
    """With a wait longer than the held call, the second call is answered, not shed."""
    release.clear()
    app = _app(RUSTPATH_ADMISSION_WAIT=30)
    answers: list[int] = []
    holder = _hold(app, "/slow/1", answers)
    waiter = threading.Thread(
        target=lambda: answers.append(app.test_client().get("/slow/2").status_code)
    )
    waiter.start()
    plans = get_state(app).plans
    gate = next(plan for kernel, plan in plans.items() if kernel.name == "held").gates["python"][0]
    while not gate._waiters:  # the second call is waiting for the slot
        waiter.join(0.01)
    release.set()
    holder.join(30)
    waiter.join(30)
    assert answers == [200, 200]


def test_every_slot_comes_back_after_refusals_and_errors(app: Flask) -> None:
    state = get_state(app)
    holder = _hold(app, "/slow/1")
    for _ in range(5):
        assert app.test_client().get("/slow/2").status_code == 503
    release.set()
    holder.join(30)
    plan = next(plan for kernel, plan in state.plans.items() if kernel.name == "held")
    own, shared = plan.gates["python"]
    assert (own.free, shared.free) == (1, 3)  # the kernel's token and the worker's, all back


def test_a_refusal_inside_a_page_is_an_html_503_by_default(app: Flask) -> None:
    holder = _hold(app, "/page/1")
    refused = app.test_client().get("/page/2", headers={"Accept": "text/html,*/*;q=0.8"})
    assert refused.status_code == 503
    assert refused.mimetype == "text/html"
    assert b"Service Unavailable" in refused.data and b"concurrency cap" in refused.data
    assert refused.headers["Retry-After"] == "1"
    as_json = app.test_client().get("/page/3", headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and as_json.json["error"] == "overloaded"
    release.set()
    holder.join(30)


def test_a_refusal_reaches_the_apps_own_error_handler(app: Flask) -> None:
    @app.errorhandler(503)
    def busy(error: Exception) -> tuple[str, int, dict[str, str]]:
        return f"<h1>Busy</h1><p>{error}</p>", 503, {"Retry-After": "5"}

    holder = _hold(app, "/page/1")
    refused = app.test_client().get("/page/2")
    assert refused.status_code == 503
    assert refused.data.startswith(b"<h1>Busy</h1>") and refused.headers["Retry-After"] == "5"
    release.set()
    holder.join(30)


def test_a_json_route_answers_json_whatever_the_client_accepts(app: Flask) -> None:
    holder = _hold(app, "/slow/1")
    refused = app.test_client().get("/slow/2", headers={"Accept": "text/html"})
    assert refused.status_code == 503 and refused.json["error"] == "overloaded"
    release.set()
    holder.join(30)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("RUSTPATH_CONCURRENCY", {"python": 0}, "positive integer or None"),
        ("RUSTPATH_CONCURRENCY", {"gpu": 1}, "must map 'python'/'rust'"),
        ("RUSTPATH_CONCURRENCY", {"rust": True}, "positive integer or None"),
        ("RUSTPATH_ADMISSION_WAIT", -1, "0 or more"),
        ("RUSTPATH_ADMISSION_WAIT", "soon", "0 or more"),
    ],
)
def test_a_bad_cap_or_wait_is_refused_by_init_app(key: str, value: object, match: str) -> None:
    app = Flask(__name__)
    app.config[key] = value
    with pytest.raises(Misconfigured, match=match):
        RustPath(app)


def test_a_bad_kernel_cap_is_refused_at_declaration() -> None:
    rustpath = RustPath()
    with pytest.raises(ValueError, match="positive integer"):
        rustpath.kernel(rust=held, concurrency={"rust": 0})(held)
    with pytest.raises(ValueError, match="positive integer"):
        rustpath.kernel(rust=held, concurrency={"gpu": 1})(held)


def test_a_gate_never_admits_past_its_limit_and_wakes_a_waiter() -> None:
    gate = Gate(2, wait=0)
    assert [gate.enter() for _ in range(3)] == [True, True, False]
    gate.leave()
    assert gate.free == 1
    patient = Gate(1, wait=30)
    assert patient.enter()
    admitted: list[bool] = []
    waiter = threading.Thread(target=lambda: admitted.append(patient.enter()))
    waiter.start()
    while not patient._waiters:
        waiter.join(0.01)
    patient.leave()  # hands the slot to the waiter, long before its 30 s
    waiter.join(30)
    assert admitted == [True] and patient.free == 0
    with pytest.raises(ValueError):
        Gate(0, wait=1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_with_every_slot_free() -> None:
    """A slot held by a parent's thread at the fork is no slot lost in the child."""
    gate = Gate(1, wait=0)
    assert gate.enter()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave at once
        os.write(write, b"1" if gate.free == 1 and gate.enter() else b"0")
        os._exit(0)
    os.close(write)
    seen = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert seen == b"1"
    assert gate.free == 0  # the parent's slot is still its own
