"""Admission: a kernel's own bound sits within the worker-wide one, and slots come back.

Calls are held open with events, never with sleeps: the properties are about counts
of slots, not about time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from flask_rustpath import RustPath
from flask_rustpath.admission import slots
from flask_rustpath.state import get_state

release = threading.Event()
entered = threading.Semaphore(0)


def held(n: int) -> int:
    """Signal that a call is inside the kernel, then wait to be released."""
    entered.release()
    assert release.wait(30), "the test never released the held call"
    return n


@pytest.fixture
def app() -> Iterator[Flask]:
    release.clear()
    app = Flask(__name__)
    app.config.update(RUSTPATH_CONCURRENCY={"python": 3, "rust": 3}, RUSTPATH_BACKEND="python")
    rustpath = RustPath(app)
    rustpath.hot("/slow/<int:n>", rust=held, concurrency={"python": 1})(held)
    rustpath.hot("/other/<int:n>", rust=held, name="other")(held)
    yield app
    release.set()


def _hold(app: Flask, path: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: app.test_client().get(path), daemon=True)
    thread.start()
    assert entered.acquire(timeout=30), f"{path} never entered its kernel"
    return thread


def test_a_kernels_own_bound_refuses_its_second_call_but_not_other_kernels(app: Flask) -> None:
    holder = _hold(app, "/slow/1")
    client = app.test_client()
    refused = client.get("/slow/2")
    assert refused.status_code == 503
    assert refused.json["error"] == "overloaded"
    assert refused.headers["Retry-After"] == "1"
    other = _hold(app, "/other/3")  # the worker-wide slots still have room
    release.set()
    holder.join(30)
    other.join(30)
    assert client.get("/slow/4").json == {"result": 4}


def test_every_slot_comes_back_after_refusals_and_errors(app: Flask) -> None:
    state = get_state(app)
    holder = _hold(app, "/slow/1")
    for _ in range(5):
        assert app.test_client().get("/slow/2").status_code == 503
    release.set()
    holder.join(30)
    plan = next(plan for kernel, plan in state.plans.items() if kernel.name == "held")
    assert len(plan.slots["python"]) == 3  # worker-wide tokens all back
    assert plan.own_slots["python"] == [None]  # the kernel's one token back


def test_a_bad_bound_is_refused_at_declaration() -> None:
    rustpath = RustPath()
    with pytest.raises(ValueError, match="positive integer"):
        rustpath.kernel(rust=held, concurrency={"rust": 0})(held)
    with pytest.raises(ValueError, match="positive integer"):
        rustpath.kernel(rust=held, concurrency={"gpu": 1})(held)


def test_slots_never_go_past_their_limit() -> None:
    tokens = slots(2)
    taken = []
    for _ in range(3):
        try:
            taken.append(tokens.pop())
        except IndexError:  # how a call finds every slot taken
            break
    assert len(taken) == 2 and tokens == []
    tokens.append(None)  # one call gives its slot back
    assert len(tokens) == 1
    with pytest.raises(ValueError):
        slots(0)
