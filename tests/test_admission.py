"""Admission: no cap by default; a deliberate cap waits a bounded time, then sheds.

Calls are held open with events, never with sleeps: the properties are about who is
refused and which slots come back, not about time.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from flask import Flask, render_template_string
from werkzeug.exceptions import HTTPException

from flask_rustpath import RustPath
from flask_rustpath.core.admission import Gate, enter_all, refusal_message
from flask_rustpath.core.errors import HotRouteError, Misconfigured, json_response
from flask_rustpath.state import get_state

release = threading.Event()
entered = threading.Semaphore(0)


def held(n: int) -> int:
    """Signal that a call is inside the kernel, then wait to be released."""
    entered.release()
    assert release.wait(30), "the test never released the held call"
    return n


def _reset_held_calls() -> None:
    """No call held and none counted as entered: a call a test left unmatched (one
    that was answered without anyone waiting for it) must not let the next test's
    ``_hold`` return before its own call is inside."""
    release.clear()
    while entered.acquire(blocking=False):
        pass


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
    _reset_held_calls()
    # A cap that refuses at once: the refusals below need no clock.
    app = _app(RUSTPATH_CONCURRENCY={"python": 3, "rust": 3}, RUSTPATH_ADMISSION_WAIT=0)
    yield app
    release.set()


def _until_waiting(gate: Gate, waiter: threading.Thread) -> None:
    """Return once ``waiter`` waits on ``gate``; fail, never hang, if it never does."""
    give_up = time.monotonic() + 30
    while not gate._waiters:
        assert waiter.is_alive(), "the call was answered instead of waiting for a slot"
        assert time.monotonic() < give_up, "the call never waited for the slot"
        waiter.join(0.01)


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
    _reset_held_calls()
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
    assert refused.json["message"] == refusal_message("python", "'held'", 0)
    assert refused.headers["Retry-After"] == "1"
    other = _hold(app, "/other/3")  # the worker-wide slots still have room
    release.set()
    holder.join(30)
    other.join(30)
    assert client.get("/slow/4").json == {"result": 4}


def test_a_capped_call_waits_for_a_slot_instead_of_being_refused() -> None:
    """With a wait longer than the held call, the second call is answered, not shed."""
    _reset_held_calls()
    app = _app(RUSTPATH_ADMISSION_WAIT=30)
    answers: list[int] = []
    holder = _hold(app, "/slow/1", answers)
    waiter = threading.Thread(
        target=lambda: answers.append(app.test_client().get("/slow/2").status_code)
    )
    waiter.start()
    plans = get_state(app).plans
    gate = next(plan for kernel, plan in plans.items() if kernel.name == "held").gates["python"][0]
    _until_waiting(gate, waiter)
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


def test_a_refusal_at_the_shared_cap_gives_back_the_kernels_own_slot() -> None:
    """The kernel's own gate is entered first: when the worker-wide one refuses, the
    kernel's slot must come back, and so must both after a call that raised."""
    _reset_held_calls()
    app = _app(RUSTPATH_CONCURRENCY={"python": 1}, RUSTPATH_ADMISSION_WAIT=0)
    holder = _hold(app, "/other/1")  # takes the worker's only slot
    assert app.test_client().get("/slow/2").status_code == 503  # own free, shared full
    release.set()
    holder.join(30)
    plan = next(plan for kernel, plan in get_state(app).plans.items() if kernel.name == "held")
    own, shared = plan.gates["python"]
    assert (own.free, shared.free) == (1, 1)

    def broken(n: int) -> int:
        raise ValueError("refused")

    rustpath = get_state(app)
    kernel = RustPath().kernel(rust=broken, name="broken", concurrency={"python": 1})(broken)
    with app.test_request_context("/"), pytest.raises(ValueError, match="refused"):
        kernel(1)  # inside a request: the serving policy, admission included
    own_broken, shared = rustpath.plans[kernel].gates["python"]
    assert (own_broken.free, shared.free) == (1, 1)


def test_one_wait_covers_every_gate_a_call_passes() -> None:
    """A call that must wait at its kernel's gate and at the worker's waits one
    RUSTPATH_ADMISSION_WAIT in all, not one per gate: both waits end at one time."""

    class Recording(Gate):
        __slots__ = ("give_ups",)

        def enter_by(self, give_up: float) -> bool:
            self.give_ups = [*getattr(self, "give_ups", []), give_up]
            return super().enter_by(give_up)

    first, second = Recording(1, wait=2), Recording(1, wait=2)
    assert first.enter() and second.enter()
    # The first gate frees while the call waits for it; the second never does.
    releaser = threading.Timer(0.05, first.leave)
    releaser.start()
    assert not enter_all((first, second))
    releaser.join(30)
    assert (first.free, second.free) == (1, 0)  # the first gate's slot was given back
    assert len(first.give_ups) == len(second.give_ups) == 1
    assert first.give_ups == second.give_ups  # one give-up time for both


def test_a_refusal_inside_a_page_is_an_html_503_by_default(app: Flask) -> None:
    holder = _hold(app, "/page/1")
    refused = app.test_client().get("/page/2", headers={"Accept": "text/html,*/*;q=0.8"})
    assert refused.status_code == 503
    assert refused.mimetype == "text/html"
    assert b"Service Unavailable" in refused.data and b"concurrency cap" in refused.data
    assert refused.headers["Retry-After"] == "1"
    for accept in (
        "application/json",
        "application/json, text/plain, */*",
        "Application/JSON; charset=utf-8",
        "application/problem+json",
    ):
        as_json = app.test_client().get("/page/3", headers={"Accept": accept})
        assert as_json.status_code == 503 and as_json.json["error"] == "overloaded", accept
    for accept in ("*/*", None):  # curl's and no header: the page's kind, as abort() does
        headers = {"Accept": accept} if accept else {}
        as_page = app.test_client().get("/page/4", headers=headers)
        assert (as_page.status_code, as_page.mimetype) == (503, "text/html"), accept
    release.set()
    holder.join(30)


def test_an_app_can_ask_for_json_errors_everywhere(app: Flask) -> None:
    """The migration note (docs/migration.md): one handler makes every kernel error JSON."""

    @app.errorhandler(HTTPException)
    def as_json(error: HTTPException) -> object:
        if isinstance(error, HotRouteError):
            response = json_response(error.body(), error.code or 500)
            response.headers.update(error.headers())
            return response
        return error

    holder = _hold(app, "/page/1")
    refused = app.test_client().get("/page/2")
    assert refused.status_code == 503 and refused.json["error"] == "overloaded"
    assert refused.headers["Retry-After"] == "1"
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
    _until_waiting(patient, waiter)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on 3.12+
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
