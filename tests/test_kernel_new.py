"""``flask rustpath new CRATE --kernel module:function``: a declared kernel's Rust twin.

The fast tests read signatures and refusals. The slow ones make the twin of the text
kernel in ``tests/apps/top_words.py`` (``list[str], int -> list[tuple[str, int]]``),
fill in its body, build it once, and check it as a user would: its generated parity
tests, its native door, the running front, and shadow mode.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_rustpath import RustPath
from flask_rustpath.crates import signature as crate_signature
from flask_rustpath.crates.commands import build_command, new_command
from flask_rustpath.crates.commands import main as crates_main
from flask_rustpath.serving.front import native_plan

from . import servers
from .apps import top_words as top_words_app
from .test_crates import call_native, native_entry, pip_uninstall

ROOT = Path(__file__).resolve().parent.parent
DECLARED = "tests.apps.top_words:top_words"

# --- signatures: no compiler involved ---------------------------------------------------


def declare(function: Any, **options: Any) -> Any:
    return RustPath().kernel(rust="nowhere:f", **options)(function)


def signature_of(function: Any, **options: Any) -> tuple[list[str], str]:
    found = crate_signature.rust_signature(declare(function, **options))
    return [f"{p.name}: {p.rust}" for p in found.parameters], found.result


def test_each_supported_annotation_has_its_rust_type() -> None:
    def f(
        text: str,
        data: bytes,
        n: int,
        x: float,
        flag: bool,
        words: list[str],
        pairs: list[tuple[str, int]],
        maybe: str | None,
        weights: dict[str, list[float]],
        one: tuple[int],
    ) -> dict[str, int] | None:
        return None

    parameters, result = signature_of(f)
    assert parameters == [
        "text: &str",
        "data: &[u8]",
        "n: i64",
        "x: f64",
        "flag: bool",
        "words: &[String]",
        "pairs: &[(String, i64)]",
        "maybe: Option<String>",
        "weights: std::collections::HashMap<String, Vec<f64>>",
        "one: (i64,)",
    ]
    assert result == "Option<std::collections::HashMap<String, i64>>"
    assert signature_of(top_words_app.top_words.python) == (
        ["words: &[String]", "n: i64"],
        "Vec<(String, i64)>",
    )


@pytest.mark.parametrize(
    ("limit", "rust"),
    [
        (None, "i64"),
        (10**6, "i64"),
        (2**63 - 1, "i64"),
        (2**63, "u64"),
        (2**64 - 1, "u64"),
        (2**64, "u128"),
        (2**128 - 1, "u128"),
    ],
)
def test_an_int_is_as_wide_as_its_rust_limit(limit: int | None, rust: str) -> None:
    def f(n: int) -> int:
        return n

    limits = {"python": {"n": 10**4}} | ({} if limit is None else {"rust": {"n": limit}})
    assert signature_of(f, limits=limits)[0] == [f"n: {rust}"]


def test_a_result_of_none_is_the_unit_type() -> None:
    def f(n: int) -> None:
        return None

    assert signature_of(f)[1] == "()"


def _set(items: set[int]) -> int:
    return len(items)


def _union(value: int | str) -> int:
    return 1


def _bare(items: list) -> int:  # type: ignore[type-arg]
    return 1


def _keys(mapping: dict[int, str]) -> int:
    return 1


def _default(n: int = 3) -> int:
    return n


def _unannotated(n) -> int:  # type: ignore[no-untyped-def]
    return 1


def _no_result(n: int):  # type: ignore[no-untyped-def]
    return n


def _huge(n: int) -> int:
    return n


@pytest.mark.parametrize(
    ("function", "options", "message"),
    [
        (_set, {}, "parameter 'items' of _set: set[int] has no Rust form; supported: str,"),
        (_union, {}, "parameter 'value' of _union: int | str is a union; only X | None"),
        (_bare, {}, "parameter 'items' of _bare: list has no Rust form"),
        (_keys, {}, "parameter 'mapping' of _keys: dict[int, str] has no Rust form"),
        (_default, {}, "parameter 'n' of _default has a default"),
        (_unannotated, {}, "parameter 'n' of _unannotated has no annotation; annotate it"),
        (_no_result, {}, "the result of _no_result has no annotation"),
        (_huge, {"limits": {"rust": {"n": 2**128}}}, f"limit {2**128} is above u128"),
    ],
)  # fmt: skip
def test_an_unsupported_annotation_is_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: Any, options: Any, message: str
) -> None:
    kernel = declare(function, **options)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "user_kernels", type(sys)("user_kernels"))
    sys.modules["user_kernels"].kernel = kernel  # type: ignore[attr-defined]
    result = CliRunner().invoke(new_command, ["twin", "--kernel", "user_kernels:kernel"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert message in lines[0]
    assert not (tmp_path / "rust").exists()


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ("tests.apps.top_words", "give it as module:function"),
        ("tests.apps.top_words:", "give it as module:function"),
        (":top_words", "give it as module:function"),
        ("tests.apps.no_such_module:top_words", "module 'tests.apps.no_such_module' does not"),
        ("tests.apps.top_words:nothing", "tests.apps.top_words has no 'nothing'"),
        ("tests.apps.top_words:create_app", "create_app is not a declared kernel"),
    ],
)
def test_a_bad_kernel_spec_exits_2_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for command, args in [(new_command, []), (crates_main, ["new"])]:
        result = CliRunner().invoke(command, [*args, "twin", "--kernel", declared])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: --kernel {declared!r}: ")
        assert message in lines[0]
    assert not (tmp_path / "rust").exists()


def test_the_crate_and_its_function_may_not_share_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(new_command, ["top_words", "--kernel", DECLARED])
    assert result.exit_code == 1
    assert "both named 'top_words'" in result.output
    assert not (tmp_path / "rust").exists()


def test_new_kernel_writes_the_signature_an_empty_body_and_parity_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(new_command, ["twin", "--kernel", DECLARED])
    assert result.exit_code == 0, result.output
    crate = tmp_path / "rust" / "twin"
    lib = (crate / "src" / "lib.rs").read_text()
    function = textwrap.dedent(
        """\
        #[rustpath::kernel]
        fn top_words(
            words: &[String],
            n: i64,
            deadline: &Deadline<'_>,
        ) -> Result<Vec<(String, i64)>, Error> {
            let _ = (words, n, deadline);
            todo!("top_words: write the Rust twin of tests.apps.top_words:top_words in src/lib.rs")
        }
        """
    )
    assert function in lib
    assert "rustpath::module!(twin, [top_words]);" in lib
    for word in ("extern", "PyCapsule", "unsafe"):
        assert word not in lib
    stub = (crate / "twin.pyi").read_text()
    assert (
        "def top_words(words: list[str], n: int, *, timeout: float | None = None) "
        "-> list[tuple[str, int]]:" in stub
    )
    tests = crate / "tests" / "test_twin_parity.py"
    source = tests.read_text()
    compile(source, str(tests), "exec")
    assert f'DECLARED = "{DECLARED}"' in source
    assert 'ROOT = (Path(__file__).parent / "../../..").resolve()' in source
    assert "Next: write the body of top_words in rust/twin/src/lib.rs" in result.output
    assert 'declare the kernel with rust="twin:top_words"' in result.output


def test_the_walkthrough_declares_this_kernel_and_writes_this_body() -> None:
    """docs/kernel-walkthrough.md's app runs, with the kernel these tests build, and its
    body is the one they build."""
    text = (ROOT / "docs" / "kernel-walkthrough.md").read_text()
    app_source = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    namespace: dict[str, Any] = {"__name__": "words_app"}
    exec(compile(app_source, "words_app.py", "exec"), namespace)
    declared, tested = namespace["top_words"], top_words_app.top_words
    assert crate_signature.rust_signature(declared) == crate_signature.rust_signature(tested)
    for example in tested.examples[:-1]:
        assert declared.python(**example) == tested.python(**example)
    response = namespace["app"].test_client().post("/python/top", json={"words": ["a"], "n": 1})
    assert response.json == {"result": [["a", 1]]}
    assert BODY in text


# --- one crate, built once: the "done when" -----------------------------------

BODY = """\
    let n = usize::try_from(n).map_err(|_| format!("n must be 0 or more, got {n}"))?;
    deadline.check()?;
    let mut counts: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for word in words {
        *counts.entry(word.as_str()).or_insert(0) += 1;
    }
    let mut ranked: Vec<(String, i64)> = counts
        .into_iter()
        .map(|(word, count)| (word.to_owned(), count))
        .collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(n);
    Ok(ranked)
"""
# The same with equal counts in reverse order: wrong only where words tie.
MUTANT = BODY.replace("a.0.cmp(&b.0)", "b.0.cmp(&a.0)")


class Twin:
    """The project directory and the crate ``new --kernel`` wrote there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.crate = root / "rust" / top_words_app.CRATE
        self.lib = self.crate / "src" / "lib.rs"

    def fill(self, body: str) -> None:
        """Replace the function's body (the scaffold's, or a previous fill)."""
        text = self.lib.read_text()
        scaffolded = 'todo!("' in text
        start = text.index("    let _ = (" if scaffolded else "    let n = usize::try_from(n)")
        end = text.index("}\n\n// The Python module")
        self.lib.write_text(text[:start] + body + text[end:])

    def build(self) -> None:
        result = CliRunner().invoke(build_command, [str(self.crate)])
        assert result.exit_code == 0, result.output

    def parity_tests(self) -> subprocess.CompletedProcess[str]:
        """The crate's generated tests, run as the user runs them (from the project's
        root; the kernel's module imports from this repository)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "rust"],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    """``new --kernel``, a real body, ``build``: ONE release compile (plus one more for
    the mutation test)."""
    if shutil.which("cargo") is None or shutil.which("maturin") is None:
        pytest.skip("needs cargo and maturin")
    root = tmp_path_factory.mktemp("project")
    patch = pytest.MonkeyPatch()
    # A target directory given by the environment is reused (pyo3 and rayon compile once).
    if "CARGO_TARGET_DIR" not in os.environ:
        patch.setenv("CARGO_TARGET_DIR", str(tmp_path_factory.mktemp("cargo") / "target"))
    patch.chdir(root)
    try:
        created = CliRunner().invoke(new_command, [top_words_app.CRATE, "--kernel", DECLARED])
        assert created.exit_code == 0, created.output
        made = Twin(root)
        if shutil.which("rustfmt"):  # what the user starts from is rustfmt-clean
            formatted = subprocess.run(
                ["rustfmt", "--check", "--edition", "2021", str(made.lib)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert formatted.returncode == 0, formatted.stdout
        made.fill(BODY)
        made.build()
        yield made
    finally:
        pip_uninstall(top_words_app.CRATE)
        sys.modules.pop(top_words_app.CRATE, None)
        patch.undo()


@pytest.mark.slow
def test_the_twin_passes_its_generated_parity_tests(twin: Twin) -> None:
    ran = twin.parity_tests()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "3 passed" in ran.stdout, ran.stdout


@pytest.mark.slow
def test_the_twins_native_door_answers_as_the_reference(twin: Twin) -> None:
    """The entry point the front calls, through the C ABI: the reference's answer as
    JSON, its refusal as bad input in the same words."""
    module = __import__(top_words_app.CRATE)
    entry = native_entry(module.__rustpath_native__["top_words"])
    reference = top_words_app.top_words.python
    for example in top_words_app.top_words.examples[:-1]:
        status, answer = call_native(entry, json.dumps(example).encode())
        assert status == 0, answer
        assert json.loads(answer) == [list(pair) for pair in reference(**example)], example
    with pytest.raises(ValueError) as refused:
        reference(words=["x"], n=-1)
    status, message = call_native(entry, b'{"words":["x"],"n":-1}')
    assert (status, message) == (1, f"top_words: {refused.value}")
    assert module.top_words(["b", "a", "b"], 1, timeout=5.0) == [("b", 2)]


@pytest.mark.slow
def test_the_front_serves_the_twins_route(twin: Twin) -> None:
    """``flask rustpath serve`` with the app that declares the kernel: the route, a POST
    of a JSON body, is answered by the front itself through the crate's native entry
    point (no gunicorn ``Server`` header), and ``/python/top`` by gunicorn."""
    app = top_words_app.create_app()
    assert "top_words" not in native_plan(app).proxied
    body = json.dumps({"words": ["a", "b", "a", "c", "b", "a"], "n": 2}).encode()
    env = {"PYTHONPATH": str(ROOT)}
    app_spec = "tests.apps.top_words:create_app()"
    with servers.front(workers=1, threads=2, app=app_spec, env=env) as running:
        for path, backend in [("/top", "rust"), ("/rust/top", "rust"), ("/python/top", "python")]:
            status, headers, answer = servers.request(
                running.base,
                path,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            assert status == 200, answer
            assert json.loads(answer) == {"result": [["a", 3], ["b", 2]]}
            assert headers["X-RustPath-Backend"] == backend, path
            native = headers["Server"] is None
            assert native == (backend == "rust"), (path, headers["Server"])
        assert "top_words goes to gunicorn" not in running.log_text()
    assert running.process.returncode == 0, running.log_text()


@pytest.mark.slow
def test_the_twin_is_shadowed(twin: Twin) -> None:
    """Shadow mode: Rust answers, the reference runs off the response's path, and every
    comparison matches."""
    app = top_words_app.create_app(
        TESTING=True,
        RUSTPATH_BACKEND="shadow",
        RUSTPATH_SHADOW_RATE=1.0,
        RUSTPATH_SHADOW_POOL="thread",
    )
    client = app.test_client()
    inputs = [example for example in top_words_app.top_words.examples if example["n"] >= 0]
    inputs += [{"words": ["to", "be", "or", "not", "to", "be", "the", "question"], "n": 3}]
    for example in inputs:
        response = client.post("/top", json=example)
        assert response.status_code == 200, response.json
        assert response.headers["X-RustPath-Backend"] == "rust"
        expected = top_words_app.top_words.python(**example)
        assert response.json == {"result": [list(pair) for pair in expected]}
    assert top_words_app.rustpath.join_shadow(app, timeout=60)
    counts = top_words_app.rustpath.stats(app)["top_words"]["shadow"]
    assert counts.get("match") == len(inputs), counts
    assert not counts.get("mismatch"), counts


# Requests to the twin's route, as (method, path, Content-Type or None, body), and
# whether the front answers each itself; gunicorn answers the others the app's way.
_WORDS = ["the", "cat", "the", "hat", "a", "cat", "the"]
BODY_REQUESTS: list[tuple[str, str, str | None, bytes, bool]] = [
    ("POST", "/top", "application/json", json.dumps({"words": _WORDS, "n": 2}).encode(), True),
    ("POST", "/rust/top", "application/json", b'{"words": ["b", "a"], "n": 5}', True),
    ("POST", "/top", "Application/JSON; charset=utf-8", rb'{"n": 1, "words": ["\u00e9"]}', True),
    ("POST", "/top", "application/json", b'{"words": [], "n": 0, "extra": [1]}', True),
    ("POST", "/top", "application/json", b'{"words": ["a"], "n": 1, "n": 3}', True),
    # The kernel's Err: a 400 naming it.
    ("POST", "/top", "application/json", b'{"words": ["x"], "n": -1}', True),
    # Above the Rust side's limit on the length of words: a 422.
    (
        "POST",
        "/top",
        "application/json",
        json.dumps({"words": ["a"] * 100_001, "n": 1}).encode(),
        True,
    ),
    ("POST", "/top", "application/json", b"{", False),
    ("POST", "/top", "application/json", b"", False),
    ("POST", "/top", "application/json", b"[1, 2]", False),
    ("POST", "/top", "application/json", b"null", False),
    ("POST", "/top", "application/json", b'{"words": ["a"]}', False),
    ("POST", "/top", "application/json", b'{"words": ["a"], "n": "2"}', False),
    ("POST", "/top", "application/json", b'{"words": ["a"], "n": 2.0}', False),
    ("POST", "/top", "application/json", b'{"words": ["a"], "n": true}', False),
    ("POST", "/top", "application/json", b'{"words": [1], "n": 2}', False),
    ("POST", "/top", "application/json", b'{"words": "ab", "n": 2}', False),
    ("POST", "/top", "application/json", b'{"words": ["a"], "n": NaN}', False),
    ("POST", "/top", "application/json", b'{"words": ["a"], "n": 99999999999999999999}', False),
    ("POST", "/top", "application/json", b'\xef\xbb\xbf{"words": ["a"], "n": 1}', False),
    ("POST", "/top", "application/json", '{"words": ["a"], "n": 1}'.encode("utf-16"), False),
    ("POST", "/top", "application/json", b'{"words": ["\xff"], "n": 1}', False),
    ("POST", "/top", "text/plain", b'{"words": ["a"], "n": 1}', False),
    ("POST", "/top", None, b'{"words": ["a"], "n": 1}', False),
    ("POST", "/top", "application/x-www-form-urlencoded", b"words=a&n=1", False),
    ("POST", "/top?n=1", "application/json", b'{"words": ["a"]}', False),
    ("GET", "/top", None, b"", False),
    ("PUT", "/top", "application/json", b'{"words": ["a"], "n": 1}', False),
]
# What may differ between two answers to one request: the time a call took.
_DURATION = re.compile(r"dur=[0-9.]+")
_COMPARED_HEADERS = ("Content-Type", "X-RustPath-Backend", "Server-Timing", "Retry-After", "Allow")


def _send(
    base: str, method: str, path: str, content_type: str | None, body: bytes
) -> tuple[int, dict[str, str | None], bytes, bool]:
    """Status, the compared headers, body, and whether the front answered itself."""
    address = urllib.parse.urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)
        response = http.client.HTTPResponse(conn)
        response.begin()
        data = response.read()
    headers = {
        name: _DURATION.sub("dur=", value) if (value := response.getheader(name)) else value
        for name in _COMPARED_HEADERS
    }
    return response.status, headers, data, response.getheader("Server") is None


@pytest.mark.slow
def test_the_front_answers_body_requests_as_gunicorn_alone(twin: Twin) -> None:
    """Good and bad requests to the twin's JSON-body route, to the front and to gunicorn
    alone: the same status, JSON and headers; the front answers the good ones, the
    kernel's refusal and the limit itself, and hands the rest to gunicorn. Then a
    bounded fuzz of bodies, compared the same way."""
    env = {"PYTHONPATH": str(ROOT)}
    app_spec = "tests.apps.top_words:create_app()"
    alone_env = {**env, "GUNICORN_APP": app_spec, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2"}
    with (
        servers.front(
            "--max-body", "512KiB", workers=1, threads=2, app=app_spec, env=env
        ) as front,
        servers.gunicorn(env=alone_env) as alone,
    ):
        for method, path, content_type, body, native in BODY_REQUESTS:
            case = (method, path, content_type, body[:60])
            status, headers, answer, answered_natively = _send(
                front.base, method, path, content_type, body
            )
            expected = _send(alone, method, path, content_type, body)
            assert (status, headers, answer) == expected[:3], case
            assert answered_natively == native, case
        # Beyond --max-body: the front's own 413, before reading the rest.
        big = json.dumps({"words": ["abcd"] * 100_000, "n": 1}).encode()
        status, headers, answer, _ = _send(front.base, "POST", "/top", "application/json", big)
        assert status == 413, answer
        assert json.loads(answer)["error"] == "body_too_large"

        json_values = st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner)
            ),
            max_leaves=8,
        )
        bodies = (
            st.fixed_dictionaries(
                {},
                optional={
                    "words": st.lists(st.text(max_size=4), max_size=8) | json_values,
                    "n": st.integers(-3, 10) | json_values,
                    "extra": json_values,
                },
            )
            | json_values
        )

        @settings(max_examples=60, deadline=None, database=None)
        @given(value=bodies)
        def same_answers(value: Any) -> None:
            body = json.dumps(value).encode()
            ours = _send(front.base, "POST", "/top", "application/json", body)
            theirs = _send(alone, "POST", "/top", "application/json", body)
            assert ours[:3] == theirs[:3], body

        same_answers()
    assert front.process.returncode == 0, front.log_text()


@pytest.mark.slow
def test_the_front_shadows_the_twins_route_with_its_body(twin: Twin) -> None:
    """Shadow mode behind the front: the front answers in Rust and sends the same POST,
    body and all, to ``/python/top``; every comparison matches."""
    env = {"PYTHONPATH": str(ROOT)}
    app_spec = (
        "tests.apps.top_words:create_app(RUSTPATH_BACKEND='shadow', RUSTPATH_SHADOW_RATE=1.0)"
    )
    inputs = [example for example in top_words_app.top_words.examples if example["n"] >= 0]
    with servers.front(workers=1, threads=2, app=app_spec, env=env) as running:
        for example in inputs:
            body = json.dumps(example).encode()
            status, _, answer, native = _send(
                running.base, "POST", "/top", "application/json", body
            )
            assert (status, native) == (200, True), answer
        wanted = f'rustpath_front_shadow_total{{kernel="top_words",outcome="match"}} {len(inputs)}'
        deadline = time.monotonic() + 30
        text = ""
        while wanted not in text and time.monotonic() < deadline:
            text = servers.get(running.base + "/rustpath/metrics")[2].decode()
            time.sleep(0.2)
        assert wanted in text, text
        assert 'outcome="mismatch"' not in text, text


@pytest.mark.slow
def test_a_wrong_body_fails_the_generated_parity_tests(twin: Twin) -> None:
    """Mutation check: the generated tests catch a twin wrong only on ties."""
    twin.fill(MUTANT)
    try:
        twin.build()
        ran = twin.parity_tests()
        assert ran.returncode == 1, ran.stdout
        assert "2 failed, 1 passed" in ran.stdout, ran.stdout
        assert "python and rust disagree" in ran.stdout, ran.stdout
        assert "python and the native entry point disagree" in ran.stdout, ran.stdout
    finally:
        twin.fill(BODY)
