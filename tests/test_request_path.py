"""The native request path (rust_src/request_path.rs) against its Python reference.

The pairing middleware's per-request work and the common kernel call run natively; the
Python reference (flask_rustpath/support/request_path.py plus the call policy) serves
when the native module does not import, and every call the native path does not take.
These tests hold the two to the same answers, and prove which path a call took.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from flask_rustpath import RustPath, _native
from flask_rustpath.core.kernel import Kernel
from flask_rustpath.support.headers import timing
from flask_rustpath.support.native import NATIVE_REQUEST_PATH

from . import support
from .apps.request_paths import answers, build

pytestmark = pytest.mark.skipif(not NATIVE_REQUEST_PATH, reason="needs the native module")


@given(
    seconds=st.one_of(
        st.none(),
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
        st.integers(0, 10**9).map(lambda us: us / 1e6),  # exact microseconds
        st.integers(0, 10**9).map(lambda us: (us + 0.5) / 1e6),  # ties
    ),
    kernel=st.text(alphabet=st.characters(codec="latin-1", exclude_characters='"'), max_size=20),
)
def test_native_server_timing_is_the_reference(seconds: float | None, kernel: str) -> None:
    assert _native._timing_entry("rust", kernel, seconds) == timing("rust", kernel, seconds)


def test_native_and_python_request_paths_answer_alike() -> None:
    """Every URL form, with and without kernels, guarded and failing ones, routing
    errors: the same status, headers and body from the native path in this process and
    from the Python reference in a process without the native module."""
    app, _ = build()
    native = answers(app)
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["flask_rustpath._native"] = None
        from tests.apps.request_paths import answers, build
        from flask_rustpath.support.native import NATIVE_REQUEST_PATH
        assert not NATIVE_REQUEST_PATH
        print(json.dumps(answers(build()[0])))
        """
    )
    reference = json.loads(support.run_python(["-c", script]).stdout)
    assert native == reference
    rows = {row[0]: row for row in native[:-1]}
    assert rows["/both/5000"][1] == 422 and rows["/fails/2"][1] == 400
    assert rows["/python/both/500"][1] == 422
    assert rows["/json/x"][1] == 404 and rows["/rust/nowhere"][1] == 404
    assert rows["/rustic"][1:3] == [200, None] and rows["/python2/none"][1] == 404
    assert json.loads(rows["/rust/caught/3"][4]) == {
        "error": "BadInput",
        "cause": "ValueError",
        "context": "ValueError",
        "suppressed": True,
    }
    assert native[-1]["plain"]["rust"]["requests"] > 0


def test_the_common_call_is_native_and_the_rest_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel with no limit or cap never reaches the Python policy once its plan is
    made; a guarded one does; a failure is recorded and mapped by the policy's own
    ``raise_mapped``."""
    app, _kernels = build()
    client = app.test_client()
    for url in ("/json/4", "/both/3", "/fails/2"):
        client.get(url)  # each kernel's plan on the app is made by its first call
    reached: list[str] = []
    python_call = Kernel._call

    def spy(self: Kernel, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any:
        reached.append(self.name)
        return python_call(self, args, kwargs)

    monkeypatch.setattr(Kernel, "_call", spy)
    assert client.get("/json/4").json == {"result": 8}
    assert client.get("/rust/json/4").json == {"result": 8}
    assert reached == []
    response = client.get("/both/3")
    assert response.status_code == 200
    assert reached == ["guarded"]  # plain ran natively, twice
    assert response.headers["Server-Timing"].count('desc="plain"') == 2
    reached.clear()
    response = client.get("/fails/2")
    assert response.status_code == 400
    assert "no 2" in response.get_data(as_text=True)
    assert response.headers["Server-Timing"] == 'rust;desc="failing"'
    assert reached == []  # failed natively: recorded and mapped by the policy's raise_mapped


def test_a_kernel_called_outside_the_middleware_makes_its_record() -> None:
    """A request context the middleware did not serve (a test's own) still records."""
    app, (plain, _, _) = build()
    with app.test_request_context("/anything"):
        assert plain(4) == 8  # makes the record, and the plan
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Kernel, "_call", lambda *args: pytest.fail("not native"))
            assert plain(5) == 10
        from flask import request

        record = request.environ["flask_rustpath.record"]
        assert [call[:2] for call in record.calls] == [("plain", "rust"), ("plain", "rust")]


def test_a_native_panic_on_the_native_path_is_a_500_and_serving_goes_on() -> None:
    if not hasattr(_native, "_panic"):
        pytest.skip("built without the test-hooks feature")
    app = Flask(__name__)
    rustpath = RustPath(app)

    def boom(message: str) -> None:
        return None

    kernel = rustpath.kernel(rust=_native._panic, name="boom")(boom)

    @app.get("/boom")
    @rustpath.paired
    def view() -> str:
        kernel("kaput")
        return "unreachable"

    client = app.test_client()
    for _ in range(3):
        response = client.get("/rust/boom")
        assert response.status_code == 500
        assert response.headers["Server-Timing"] == 'rust;desc="boom"'
    assert client.get("/python/boom").status_code == 200


def test_the_deadline_reaches_a_rust_side_that_takes_one_and_the_caller_may_override_it() -> None:
    """The native call passes ``timeout=`` (the app's deadline) by keyword, after any
    positional arguments; a ``timeout`` the view passes itself wins, with its other
    keywords kept."""
    app = Flask(__name__)
    app.config.update(RUSTPATH_DEADLINE=2.5)
    rustpath = RustPath(app)

    def rust(a: int, b: int = 0, *, timeout: float | None = None) -> list[Any]:
        return [a, b, timeout]

    def python(a: int, b: int = 0, *, timeout: float | None = None) -> list[Any]:
        return [a, b, timeout]  # the Python side is never given the deadline

    kernel = rustpath.kernel(rust=rust, name="echo")(python)

    @app.get("/echo")
    @rustpath.paired
    def echo() -> Any:
        return {
            "plain": kernel(1),
            "two": kernel(1, 2),
            "keyword": kernel(1, b=3),
            "own": kernel(1, timeout=0.5),
        }

    client = app.test_client()
    for _ in range(2):  # the first call makes the plan in Python; the second is native
        answer = client.get("/rust/echo").json
        assert answer == {
            "plain": [1, 0, 2.5],
            "two": [1, 2, 2.5],
            "keyword": [1, 3, 2.5],
            "own": [1, 0, 0.5],
        }
    answer = client.get("/python/echo").json
    assert answer["plain"] == [1, 0, None] and answer["own"] == [1, 0, 0.5]


def test_a_native_duration_is_the_calls_own() -> None:
    """Server-Timing's dur is the time of the call: at least the 5 ms the kernel sleeps."""
    import time

    app = Flask(__name__)
    rustpath = RustPath(app)

    def python(n: int) -> int:
        return n

    def rust(n: int) -> int:
        time.sleep(0.005)
        return n

    kernel = rustpath.kernel(rust=rust, name="slow")(python)
    rustpath.route("/slow/<int:n>", kernel)
    client = app.test_client()
    client.get("/slow/1")  # the plan
    entry = client.get("/rust/slow/1").headers["Server-Timing"]
    millis = float(entry.split("dur=")[1].split(";")[0])
    assert 5.0 <= millis < 5000.0


def test_an_app_is_freed_once_dropped() -> None:
    """The native middleware takes part in garbage collection: an app made, served and
    dropped (an app factory in a test suite) is freed."""
    import gc
    import weakref

    refs = []
    for _ in range(3):
        app, _kernels = build()
        assert app.test_client().get("/rust/both/3").status_code == 200
        refs.append(weakref.ref(app))
        del app, _kernels
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_a_middleware_put_in_between_is_served() -> None:
    """``app.wsgi_app.wsgi_app`` may be replaced (a profiler, a test middleware): the
    native middleware calls what is there now."""
    app, _ = build()
    inner = app.wsgi_app.wsgi_app

    def tagging(environ: Any, start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Between", "yes")], exc_info)

        return inner(environ, start)

    app.wsgi_app.wsgi_app = tagging  # type: ignore[attr-defined]
    response = app.test_client().get("/rust/both/3")
    assert response.headers["X-Between"] == "yes"
    assert response.headers["X-RustPath-Backend"] == "rust"


def test_a_patched_reference_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that patches a kernel's Python function after its first call gets the
    patch on the native path too."""
    app, (plain, _, _) = build()
    client = app.test_client()
    assert client.get("/python/both/3").json["plain"] == 6
    monkeypatch.setattr(plain, "python", lambda n: -n)
    assert client.get("/python/both/3").json["plain"] == -3


def test_a_native_panic_is_not_printed_or_hooked(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A panic in one of this module's own kernels on the native path is a 500, with
    nothing written to stderr by PyO3 and no call of ``sys.excepthook``."""
    import sys

    if not hasattr(_native, "_panic"):
        pytest.skip("built without the test-hooks feature")
    hooked: list[Any] = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: hooked.append(args))
    app = Flask(__name__)
    rustpath = RustPath(app)

    def boom(message: str) -> None:
        return None

    kernel = rustpath.kernel(rust=_native._panic, name="boom")(boom)
    seen: list[BaseException] = []

    @app.get("/boom")
    @rustpath.paired
    def view() -> str:
        try:
            kernel("kaput")
        except BaseException as exc:
            seen.append(exc)
            raise
        return "unreachable"

    client = app.test_client()
    for _ in range(2):
        assert client.get("/rust/boom").status_code == 500
    assert hooked == []
    assert "resuming a panic" not in capfd.readouterr().err
    cause = seen[-1].__cause__
    assert type(cause).__name__ == "PanicException" and "kaput" in str(cause)
