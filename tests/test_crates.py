"""Your own Rust crates: ``flask rustpath new`` / ``build``, autobuild, freshness, reloading.

The walkthrough tests compile for real (cargo + maturin + pip), so they share one
crate, built once per run, and one Cargo target directory, so pyo3 and rayon compile
once for every build here. Crate names are unique per run, and every crate this
module installs is uninstalled at the end.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import json
import math
import os
import queue
import random
import shutil
import string
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import AppGroup

from flask_rustpath import RustPath
from flask_rustpath.crates import autobuild as crate_autobuild
from flask_rustpath.crates import build as crate_build
from flask_rustpath.crates import freshness as crate_freshness
from flask_rustpath.crates import layout as crate_layout
from flask_rustpath.crates import scaffold as crate_scaffold
from flask_rustpath.crates.commands import build_command, new_command
from flask_rustpath.serving.front import CAPSULE_NAME, native_plan

from . import servers

needs_cargo = pytest.mark.skipif(
    shutil.which("cargo") is None or shutil.which("maturin") is None,
    reason="needs cargo and maturin",
)


def crate_cli_app() -> Flask:
    """An app with RustPath and the crate commands in a group of their own.

    The real ``flask rustpath`` group gets these commands from cli.py; a separate
    group keeps this test independent of that wiring.
    """
    app = Flask("crates_cli")
    app.config.update(TESTING=True, RUSTPATH_BUILTINS=False)
    RustPath(app)
    group = AppGroup("crates", help="test group")
    group.add_command(new_command)
    group.add_command(build_command)
    app.cli.add_command(group)
    return app


def served_app(name: str) -> Flask:
    app = Flask("crates_served")
    app.config.update(TESTING=True, RUSTPATH_BUILTINS=False)
    rustpath = RustPath(app)

    @rustpath.hot("/sum_of_primes/<int:n>", rust=f"{name}:sum_of_primes")
    def sum_of_primes(n: int) -> int:
        return sum(i for i in range(2, n) if all(i % d for d in range(2, int(i**0.5) + 1)))

    return app


def pip_uninstall(*names: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "-y", *names],
        capture_output=True,
        check=False,
    )


# --- refusals and missing tools: no compiler involved ------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1abc", "not a valid Python identifier"),
        ("my-crate", "not a valid Python identifier"),
        ("class", "Python keyword"),
        ("MyCrate", "lower-case"),
        ("fn", "reserved in Rust"),
        ("json", "standard library"),
        ("is_prime", "an item of the scaffolded src/lib.rs"),
        ("sum_of_primes", "an item of the scaffolded src/lib.rs"),
        ("rustpath", "names a dependency"),
    ],
)
def test_new_refuses_a_bad_name_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, reason: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(new_command, [name])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert reason in result.output
    assert not (tmp_path / "rust").exists()


def test_new_refuses_an_existing_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rust" / "taken").mkdir(parents=True)
    result = CliRunner().invoke(new_command, ["taken"])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "Error: rust/taken already exists; choose another --dir or remove it"
    )
    assert list((tmp_path / "rust" / "taken").iterdir()) == []


def test_new_honours_dir(tmp_path: Path) -> None:
    target = tmp_path / "native" / "kern"
    result = CliRunner().invoke(new_command, ["kern", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "src" / "lib.rs").is_file()
    assert (target / "kern.pyi").is_file()
    assert 'name = "kern"' in (target / "Cargo.toml").read_text()
    assert crate_layout.find_crates([str(target)]) == [crate_layout.Crate("kern", target)]


def test_build_without_cargo_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no cargo, no maturin
    result = CliRunner().invoke(build_command, [])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {crate_build.MISSING_CARGO}"]
    assert "rustup" in result.output


def test_build_without_maturin_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cargo = tmp_path / "cargo"
    cargo.write_text("#!/bin/sh\nexit 0\n")
    cargo.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    # Not beside this interpreter either (where a virtualenv keeps its maturin).
    monkeypatch.setattr(crate_build, "_interpreter_scripts", lambda: str(tmp_path))
    result = CliRunner().invoke(build_command, [])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {crate_build.MISSING_MATURIN}"]


def test_build_refuses_an_unknown_crate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("cargo") is None or shutil.which("maturin") is None:
        pytest.skip("the tool check comes first")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(build_command, ["nope"])
    assert result.exit_code == 1
    assert "no crate 'nope'" in result.output


def test_freshness_of_modules_without_a_crate() -> None:
    missing = crate_freshness.freshness("no_such_module_for_rustpath")
    assert (missing.built, missing.fresh, missing.detail) == (False, None, "not installed")
    pure_python = crate_freshness.freshness("flask")
    assert not pure_python.built and pure_python.fresh is None


def test_enable_autobuild_installs_the_hook_once() -> None:
    pytest.importorskip("maturin_import_hook")
    if shutil.which("cargo") is None or shutil.which("maturin") is None:
        pytest.skip("needs cargo and maturin")
    before = list(sys.meta_path)
    try:
        assert crate_autobuild.enable_autobuild()
        assert crate_autobuild.enable_autobuild()
        assert len(sys.meta_path) == len(before) + 1
    finally:
        crate_autobuild.disable_autobuild()
    assert sys.meta_path == before


def test_stat_reloader_watches_registered_crate_sources(tmp_path: Path) -> None:
    """werkzeug's stat reloader stats every sys.modules[...].__file__: ours included."""
    from werkzeug._reloader import _find_stat_paths

    crate_scaffold.scaffold("watched", tmp_path / "watched")
    try:
        watched = crate_autobuild.watch_crate_sources([tmp_path / "watched"])
        lib = str((tmp_path / "watched" / "src" / "lib.rs").resolve())
        assert lib in {str(p.resolve()) for p in watched}
        assert lib in _find_stat_paths(set(), set())
    finally:
        crate_autobuild.unwatch_crate_sources()
    assert lib not in _find_stat_paths(set(), set())


@pytest.mark.slow
def test_flask_run_debug_restarts_when_a_rust_file_changes(tmp_path: Path) -> None:
    """End to end with the stat reloader: ``flask run --debug``, save lib.rs, restart."""
    try:
        import watchdog  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("watchdog is installed, so werkzeug uses its reloader, not the stat one")
    crate_scaffold.scaffold("reloaded", tmp_path / "rust" / "reloaded")
    (tmp_path / "reload_app.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from flask import Flask
            from flask_rustpath.crates.autobuild import watch_crate_sources

            app = Flask(__name__)
            watch_crate_sources([Path(__file__).parent / "rust" / "reloaded"])
            """
        )
    )
    env = {**os.environ, "FLASK_APP": "reload_app", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "run", "--debug", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True)
    reader.start()

    def wait_for(text: str, seconds: float = 30) -> list[str]:
        seen, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if text in seen[-1]:
                return seen
        raise AssertionError(f"no {text!r} within {seconds}s; output: {seen}")

    try:
        wait_for("Debugger PIN")
        time.sleep(1.5)  # one stat pass records the mtimes
        lib = tmp_path / "rust" / "reloaded" / "src" / "lib.rs"
        lib.write_text(lib.read_text() + "\n// edited\n")
        assert "lib.rs" in wait_for("Detected change")[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=10)  # the pipe ends with the server; then close it
        process.stdout.close()


# --- the walkthrough, compiled for real --------------------------------------------


class Project:
    """A user's project directory holding one scaffolded and built crate."""

    def __init__(self, root: Path, name: str, build_output: str, build_seconds: float) -> None:
        self.root = root
        self.name = name
        self.crate = root / "rust" / name
        self.build_output = build_output
        self.build_seconds = build_seconds

    def run_python(self, code: str, *, autobuild: bool) -> subprocess.CompletedProcess[str]:
        prelude = "from flask_rustpath.crates.autobuild import enable_autobuild\n"
        if autobuild:
            prelude += "assert enable_autobuild(release=True)\n"
        return subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """``flask rustpath new`` then ``build`` (release) in a fresh project: ONE compile."""
    if shutil.which("cargo") is None or shutil.which("maturin") is None:
        pytest.skip("needs cargo and maturin")
    shared = tmp_path_factory.mktemp("cargo")
    root = tmp_path_factory.mktemp("project")
    name = f"rp_walk_{uuid.uuid4().hex[:8]}"
    installed = [name]
    patch = pytest.MonkeyPatch()
    patch.setenv("CARGO_TARGET_DIR", str(shared / "target"))
    patch.setenv("MATURIN_BUILD_DIR", str(shared / "hook"))  # the import hook's records
    patch.chdir(root)
    try:
        runner = crate_cli_app().test_cli_runner()
        created = runner.invoke(args=["crates", "new", name])
        assert created.exit_code == 0, created.output
        started = time.perf_counter()
        built = runner.invoke(args=["crates", "build"])
        seconds = time.perf_counter() - started
        assert built.exit_code == 0, built.output
        yield Project(root, name, built.output, seconds)
    finally:
        pip_uninstall(*installed)
        sys.modules.pop(name, None)
        patch.undo()


@pytest.mark.slow
@needs_cargo
def test_walkthrough_new_build_import_and_serve(project: Project) -> None:
    print(f"release build of a new crate: {project.build_seconds:.1f}s")
    name = project.name
    for relative in ("Cargo.toml", "pyproject.toml", "src/lib.rs", f"{name}.pyi"):
        assert (project.crate / relative).is_file()
    lines = project.build_output.splitlines()
    assert any(line.startswith(f"[{name}] ") and "Compiling" in line for line in lines)
    assert lines[-1].startswith(f"[{name}] ok: built and installed in ")

    module = __import__(name)
    assert module.sum_of_primes(10) == 17
    with pytest.raises(ValueError, match="negative"):
        module.sum_of_primes(-1)

    client = served_app(name).test_client()
    python = client.get("/python/sum_of_primes/20000")
    rust = client.get("/rust/sum_of_primes/20000")
    assert python.status_code == rust.status_code == 200, rust.json
    assert python.json == rust.json == {"result": 21171191}
    assert rust.headers["X-RustPath-Backend"] == "rust"

    fresh = crate_freshness.freshness(name)
    assert (fresh.built, fresh.fresh) == (True, True), fresh
    assert fresh.crate_dir == project.crate.resolve()
    assert fresh.library is not None
    # maturin ships NAME.pyi from the crate root as the package's stub, with py.typed.
    assert (fresh.library.parent / "__init__.pyi").is_file()
    assert (fresh.library.parent / "py.typed").is_file()


@pytest.mark.slow
@needs_cargo
def test_the_scaffolds_parity_test_passes(project: Project) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "rust/" + project.name],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


@pytest.mark.slow
@needs_cargo
def test_the_scaffold_is_fmt_and_clippy_clean(project: Project) -> None:
    fmt = subprocess.run(
        ["cargo", "fmt", "--check"], cwd=project.crate, capture_output=True, text=True
    )
    if "not installed" in fmt.stderr or "no such command" in fmt.stderr:
        pytest.skip("rustfmt is not installed")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    started = time.perf_counter()
    clippy = subprocess.run(
        ["cargo", "clippy", "--", "-D", "warnings"],
        cwd=project.crate,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"cargo clippy on the scaffold: {time.perf_counter() - started:.1f}s")
    if "no such command" in clippy.stderr:
        pytest.skip("clippy is not installed")
    assert clippy.returncode == 0, clippy.stderr


@pytest.mark.slow
@needs_cargo
def test_the_scaffolds_rust_tests_pass(project: Project) -> None:
    """``cargo test`` in the crate: the example kernel as plain Rust, deadline included.
    (The glue's own cases, a panic turned into status 3 among them, are the kernel
    crate's: rust_src/tests/kernel_attribute.rs and tests/test_kernel_attribute.py.)"""
    started = time.perf_counter()
    result = subprocess.run(
        ["cargo", "test"], cwd=project.crate, capture_output=True, text=True, timeout=600
    )
    print(f"cargo test on the scaffold: {time.perf_counter() - started:.1f}s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tests::trial_division_finds_the_small_primes ... ok" in result.stdout
    assert "tests::sums_and_refusals ... ok" in result.stdout


# --- the native entry point (C ABI v1), called as the Rust front calls it -----------


class Buffer(ctypes.Structure):
    _fields_ = [
        ("ptr", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
        ("cap", ctypes.c_size_t),
    ]


class NativeEntry(ctypes.Structure):
    _fields_ = [
        ("abi_version", ctypes.c_uint32),
        (
            "call",
            ctypes.CFUNCTYPE(
                ctypes.c_int32,
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_double,
                ctypes.POINTER(ctypes.c_uint8),
                ctypes.POINTER(Buffer),
            ),
        ),
        ("release", ctypes.CFUNCTYPE(None, Buffer)),
    ]


def native_entry(capsule: object) -> Any:
    """The ``NativeEntry`` a ``flask_rustpath.native.v1`` capsule holds."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    assert api.PyCapsule_GetName(capsule) == CAPSULE_NAME.encode()
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return NativeEntry.from_address(api.PyCapsule_GetPointer(capsule, CAPSULE_NAME.encode()))


def call_native(
    entry: Any, args: bytes, timeout: float = 0.0, cancelled: bool = False
) -> tuple[int, str]:
    """One call through the ABI (ctypes releases the GIL for it): status and text."""
    flag = ctypes.c_uint8(cancelled)
    out = Buffer()
    status = entry.call(args, len(args), timeout, ctypes.byref(flag), ctypes.byref(out))
    text = ctypes.string_at(out.ptr, out.len).decode()
    entry.release(out)
    return int(status), text


def prime_sums_below(limit: int) -> list[int]:
    """``sums[n]``: the sum of primes below ``n``, by the parity test's trial division."""
    sums = [0, 0]
    for i in range(1, limit):
        prime = i >= 2 and all(i % d for d in range(2, math.isqrt(i) + 1))
        sums.append(sums[-1] + (i if prime else 0))
    return sums


@pytest.mark.slow
@needs_cargo
def test_the_scaffolds_native_entry_agrees_with_python_through_the_c_abi(
    project: Project,
) -> None:
    module = importlib.import_module(project.name)
    assert list(module.__rustpath_native__) == ["sum_of_primes"]
    entry = native_entry(module.__rustpath_native__["sum_of_primes"])
    assert entry.abi_version == 1

    # Many inputs, against the Python reference; block and chunk edges included.
    sums = prime_sums_below(20_001)
    rng = random.Random(20_000)
    inputs = [0, 1, 2, 3, 4, 5, 1023, 1024, 1025, 4097, 4098, 20_000]
    inputs += rng.sample(range(20_001), 300)
    for n in inputs:
        assert call_native(entry, b'{"n":%d}' % n) == (0, str(sums[n])), n
    # Larger n, against the Python door of the same crate; a deadline far away, or none
    # (zero, negative and NaN mean none), changes nothing.
    for n, timeout in [(10**6, 0.0), (2_000_003, 60.0), (123_457, -1.0), (99_991, math.nan)]:
        assert call_native(entry, b'{"n":%d}' % n, timeout) == (0, str(module.sum_of_primes(n)))
    # From several threads at once (the front calls from its own), with no GIL held.
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: call_native(entry, b'{"n":%d}' % n), inputs[:64]))
    assert answers == [(0, str(sums[n])) for n in inputs[:64]]

    # Bad input is status 1 with a message; the negative n in the Python door's words.
    with pytest.raises(ValueError, match="negative") as refused:
        module.sum_of_primes(-1)
    assert call_native(entry, b'{"n":-1}') == (1, str(refused.value))
    assert call_native(entry, b"{}") == (1, "sum_of_primes: missing argument 'n'")
    for bad in [b'{"n":"7"}', b'{"n":1.5}', b'{"n":null}', b'{"n":18446744073709551616}']:
        status, message = call_native(entry, bad)
        assert status == 1 and message.startswith("sum_of_primes: argument 'n': "), (bad, message)
    for bad in [b"", b"[1]", b"7", b'{"n":']:
        status, message = call_native(entry, bad)
        assert status == 1 and message.startswith("arguments are not a JSON object"), bad
    assert call_native(entry, b'\xff{"n":1}') == (1, "arguments are not UTF-8")

    # Hours of trial division: only the deadline or the cancel flag ends these calls,
    # within milliseconds. Bounded in CPU time, which load on the machine cannot inflate.
    huge = b'{"n":%d}' % (2**63 - 1)
    cpu = time.process_time()
    assert call_native(entry, huge, timeout=0.05) == (2, "")
    assert call_native(entry, huge, cancelled=True) == (2, "")
    assert time.process_time() - cpu < 10
    assert call_native(entry, b'{"n":100}') == (0, "1060")  # the pool still works


def front_app_source(name: str) -> str:
    return textwrap.dedent(
        f"""
        import math

        from flask import Flask
        from flask_rustpath import RustPath

        app = Flask(__name__)
        # Every URL of the route through Rust; a short deadline so a 504 comes soon.
        app.config.update(RUSTPATH_BACKEND="rust", RUSTPATH_DEADLINE=0.5)
        rustpath = RustPath(app)


        @rustpath.hot("/sum_of_primes/<int:n>", rust="{name}:sum_of_primes")
        def sum_of_primes(n: int) -> int:
            return sum(i for i in range(2, n) if all(i % d for d in range(2, math.isqrt(i) + 1)))
        """
    )


@pytest.mark.slow
@needs_cargo
def test_the_front_serves_the_scaffolded_crate_natively(project: Project) -> None:
    """``flask rustpath serve`` answers the crate's route itself, as the app would."""
    module_name = f"{project.name}_front_app"
    source = project.root / f"{module_name}.py"
    source.write_text(front_app_source(project.name))
    spec = importlib.util.spec_from_file_location(module_name, source)
    assert spec is not None and spec.loader is not None
    app_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app_module)
    app: Flask = app_module.app
    plan = native_plan(app)
    assert plan.proxied == {}
    assert list(plan.entries) == [f"{project.name}:sum_of_primes"]
    assert [route["entry"] for route in plan.routes] == [f"{project.name}:sum_of_primes"]
    client = app.test_client()

    path = os.pathsep.join(filter(None, [str(project.root), os.environ.get("PYTHONPATH")]))
    with servers.front(workers=1, threads=2, app=module_name, env={"PYTHONPATH": path}) as running:
        base = running.base
        for rule in ["/rust/sum_of_primes/{n}", "/sum_of_primes/{n}"]:
            for n in [0, 2, 100, 20_000, 1_000_000]:
                url = rule.format(n=n)
                status, headers, body = servers.get(base + url)
                assert status == 200, (url, body)
                assert headers["Server"] != "gunicorn", url  # not proxied
                assert headers["X-RustPath-Backend"] == "rust"
                assert headers["Server-Timing"].startswith("rust;dur=")
                expected = client.get(url)
                assert json.loads(body) == expected.json, url
                assert expected.headers["X-RustPath-Backend"] == "rust"

        # Past the deadline: 504 from the front, in the Flask side's words.
        url = f"/rust/sum_of_primes/{2**63 - 1}"
        cpu = time.process_time()
        status, headers, body = servers.get(base + url)
        assert (status, headers["X-RustPath-Backend"]) == (504, "rust")
        expected = client.get(url)
        assert time.process_time() - cpu < 10
        assert (expected.status_code, json.loads(body)) == (504, expected.json)
        # Too large for the kernel: a 400 from both (each side words it its own way).
        url = f"/rust/sum_of_primes/{2**64}"
        status, headers, body = servers.get(base + url)
        expected = client.get(url)
        assert status == expected.status_code == 400, body
        assert json.loads(body)["error"] == expected.json["error"] == "bad_input"
        assert headers["Server"] != "gunicorn"

        # The Python variant goes to gunicorn, which says so.
        status, headers, body = servers.get(f"{base}/python/sum_of_primes/100")
        assert (status, json.loads(body)) == (200, {"result": 1060})
        assert headers["Server"] == "gunicorn"
    # SIGTERM drained both processes cleanly.
    assert running.process.returncode == 0, running.log_text()


@pytest.mark.slow
@needs_cargo
def test_a_compile_error_fails_the_build_readably(project: Project) -> None:
    name = f"{project.name}_broken"
    crate_scaffold.scaffold(name, project.root / "rust" / name)
    lib = project.root / "rust" / name / "src" / "lib.rs"
    broken = lib.read_text().replace(
        "let n = u64::try_from(n)", 'let _: u64 = "not a number";\n    let n = u64::try_from(n)', 1
    )
    lib.write_text(broken)
    started = time.perf_counter()
    result = CliRunner().invoke(build_command, [name])
    print(f"failing build (deps cached): {time.perf_counter() - started:.1f}s")
    try:
        assert result.exit_code == 1
        assert "error[E0308]: mismatched types" in result.output
        assert "src/lib.rs" in result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith(f"[{name}] FAILED after ")
        assert "error[E0308]: mismatched types" in last and "src/lib.rs:" in last
    finally:
        shutil.rmtree(project.root / "rust" / name)
        pip_uninstall(name)


@pytest.mark.slow
@needs_cargo
def test_a_kernel_declared_after_init_app_gets_the_stale_check_and_the_dev_loop(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    """The usual factory calls init_app, then registers blueprints whose modules declare
    the kernels. A stale crate behind such a late kernel is still reported; in debug
    mode the import hook is in place before the blueprints import anything, and the
    crate's sources are watched, so ``flask run --debug`` restarts on a save."""
    pytest.importorskip("maturin_import_hook")
    lib = project.crate / "src" / "lib.rs"
    saved = lib.stat()
    # Saved after the last build: stale, with the content the other tests expect.
    os.utime(lib, ns=(saved.st_atime_ns, saved.st_mtime_ns + 60 * 10**9))
    watched = crate_autobuild._WATCH_PREFIX + str(lib.resolve())

    def reference(n: int) -> int:
        return sum(p for p in range(2, n) if all(p % d for d in range(2, p)))

    try:
        for debug in (False, True):
            rustpath = RustPath()
            app = Flask(f"late_{debug}")
            app.debug = debug
            rustpath.init_app(app)  # no kernel of the crate is declared yet
            assert (crate_autobuild._autobuild_importer is not None) is debug
            caplog.clear()
            with caplog.at_level("WARNING", logger="flask_rustpath"):
                rustpath.kernel(rust=f"{project.name}:sum_of_primes", name="late")(reference)
            stale = [r.getMessage() for r in caplog.records if "is stale" in r.getMessage()]
            if debug:  # rebuilt on import by the hook, and watched: nothing to report
                assert stale == [] and watched in sys.modules
            else:
                assert len(stale) == 1 and project.name in stale[0], caplog.text
                assert watched not in sys.modules
    finally:
        os.utime(lib, ns=(saved.st_atime_ns, saved.st_mtime_ns))
        crate_autobuild.unwatch_crate_sources()
        crate_autobuild.disable_autobuild()


@pytest.mark.slow
@needs_cargo
def test_edited_rust_is_rebuilt_on_import_with_autobuild_and_reported_stale_without(
    project: Project,
) -> None:
    pytest.importorskip("maturin_import_hook")
    lib = project.crate / "src" / "lib.rs"
    original = lib.read_text()
    edited = original.replace("sum += u128::from(i);", "sum += 2 * u128::from(i);", 1)
    assert edited != original
    lib.write_text(edited)
    probe = f"import {project.name} as m; print(m.sum_of_primes(10))"

    # Autobuild off: the old build keeps serving, nothing compiles, staleness is reported.
    stale = crate_freshness.freshness(project.name)
    assert (stale.built, stale.fresh) == (True, False), stale
    assert "src/lib.rs changed after the last build" in stale.detail
    old = project.run_python(probe, autobuild=False)
    assert old.stdout.split() == ["17"], old.stderr

    # Autobuild on: a fresh interpreter imports the new code, no manual build.
    started = time.perf_counter()
    new = project.run_python(probe, autobuild=True)
    print(f"import-hook rebuild after an edit: {time.perf_counter() - started:.1f}s")
    assert new.returncode == 0, new.stderr
    assert new.stdout.split() == ["34"], new.stdout + new.stderr
    assert crate_freshness.freshness(project.name).fresh is True
    # The hook's stand-in virtualenv for maturin does not outlive the import.
    leak = project.run_python(probe + "; import os; print(os.environ.get('VIRTUAL_ENV'))",
                              autobuild=True)  # fmt: skip
    assert leak.stdout.split() == ["34", str(os.environ.get("VIRTUAL_ENV"))], leak.stderr


@pytest.mark.slow
@needs_cargo
def test_a_crate_with_the_hand_written_abi_v1_still_builds_and_is_served_natively(
    project: Project,
) -> None:
    """A crate scaffolded before the kernel crate existed writes ABI v1 out by hand
    (tests/abi_v1_crate: that scaffold's lib.rs and Cargo.toml). ``build`` leaves it
    as it is, and the front still takes its entry point."""
    name = f"{project.name}_v1"
    crate = project.root / "rust" / name
    crate_scaffold.scaffold(name, crate)
    old = Path(__file__).with_name("abi_v1_crate")
    values = {"name": name, "pyo3_version": crate_scaffold.PYO3_VERSION}
    for template, relative in [("Cargo.toml.tmpl", "Cargo.toml"), ("lib.rs.tmpl", "src/lib.rs")]:
        text = (old / template).read_text(encoding="utf-8")
        (crate / relative).write_text(string.Template(text).substitute(values), encoding="utf-8")
    (crate / ".flask-rustpath").unlink()
    try:
        result = CliRunner().invoke(build_command, [name])
        assert result.exit_code == 0, result.output
        assert not (crate / ".flask-rustpath").exists()
        module = importlib.import_module(name)
        assert module.sum_of_primes(100) == 1060
        entry = native_entry(module.__rustpath_native__["sum_of_primes"])
        assert call_native(entry, b'{"n":100}') == (0, "1060")
        assert call_native(entry, b"{}") == (1, "missing argument 'n'")

        app = served_app(name)
        plan = native_plan(app)
        assert list(plan.entries) == [f"{name}:sum_of_primes"] and plan.proxied == {}
    finally:
        sys.modules.pop(name, None)
        shutil.rmtree(crate)
        pip_uninstall(name)
