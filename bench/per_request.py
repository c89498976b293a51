"""``python -m bench.per_request``: what the extension adds to a request, in instructions.

Wall-clock time on a shared machine swings 3x between runs; an instruction count under
callgrind is the same for the same code every run. Each scenario runs in its own
``valgrind --tool=callgrind --collect-atstart=no`` process with ``PYTHONHASHSEED=0``:
start-up and a warm-up run uncounted, then a 3-line C helper switches collection on
around the measured loop only (``CALLGRIND_TOGGLE_COLLECT``), so the figure is the
cost of the requests and nothing else.

Each request is a direct WSGI call with a fresh environ, as a server makes it, with the
response body consumed: Flask's whole request path, no socket, no test client.

Scenarios, all at ``n = 100``:

- ``hello``: Flask's cheapest view, in an app without the extension;
- ``hand``: a hand-written view calling the Rust function and returning ``jsonify``,
  in an app without the extension: the baseline the extension is judged against;
- ``hello_rp``: ``/hello`` in an app with the extension (its cost on unrelated URLs);
- ``paired``: the same hand-written view, paired, calling a kernel;
- ``shorthand``: the JSON shorthand route of the same kernel.

Writes ``bench/per_request.json``; the report renders it.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULT = BENCH_DIR / "per_request.json"
SCENARIOS = ("hello", "hand", "hello_rp", "paired", "shorthand")
N = 100
WARMUP = 300
REQUESTS = 2000
GOAL = 0.03  # the extension may add at most 3% over the hand-written view

TOGGLE_C = """#include <valgrind/callgrind.h>
void toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def build_app(scenario: str) -> tuple[Any, str]:
    """The WSGI app and the path one scenario requests."""
    from flask import Flask, jsonify

    from flask_rustpath import RustPath, _native

    app = Flask("per_request")

    @app.get("/hello")
    def hello() -> str:
        return "Hello, World!"

    if scenario in ("hello", "hand"):

        @app.get("/hand/<int:n>")
        def hand(n: int) -> Any:
            return jsonify(result=_native.sum_of_primes(n))

        return app, "/hello" if scenario == "hello" else f"/hand/{N}"

    rustpath = RustPath(app)

    @rustpath.kernel(rust=_native.sum_of_primes)
    def sum_of_primes(n: int) -> int:
        raise AssertionError("the Rust side runs in this benchmark")

    @app.get("/paired/<int:n>")
    @rustpath.paired
    def paired(n: int) -> Any:
        return jsonify(result=sum_of_primes(n))

    rustpath.route("/shorthand/<int:n>", sum_of_primes)
    path = {"hello_rp": "/hello", "paired": f"/paired/{N}", "shorthand": f"/shorthand/{N}"}
    return app, path[scenario]


def request_loop(app: Any, path: str) -> Callable[[int], None]:
    from werkzeug.test import EnvironBuilder

    template = EnvironBuilder(path=path, base_url="http://127.0.0.1:8000").get_environ()
    expected = "200 OK"

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if status != expected:
            raise RuntimeError(f"{path} answered {status}")
        return None

    def run(count: int) -> None:
        for _ in range(count):
            environ = dict(template)
            environ["wsgi.input"] = io.BytesIO()
            body = app(environ, start_response)
            try:
                for _chunk in body:
                    pass
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    return run


def inner(scenario: str, toggle_library: str) -> None:
    """Runs inside valgrind: warm up uncounted, then count the measured loop only."""
    app, path = build_app(scenario)
    run = request_loop(app, path)
    run(WARMUP)
    toggle = ctypes.CDLL(toggle_library).toggle_collect
    toggle()
    run(REQUESTS)
    toggle()


def measure(scenario: str, scratch: Path, toggle_library: Path) -> int:
    out = scratch / f"callgrind.{scenario}.out"
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.per_request",
        "--inner",
        scenario,
        "--toggle",
        str(toggle_library),
    ]
    subprocess.run(command, check=True, cwd=ROOT, env=env, capture_output=True, timeout=1800)
    text = out.read_text()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(match.group(1))


def compile_toggle(scratch: Path) -> Path:
    source = scratch / "toggle.c"
    source.write_text(TOGGLE_C)
    library = scratch / "libtoggle.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source)], check=True)
    return library


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.per_request", description=__doc__)
    parser.add_argument("--inner", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--toggle", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULT, help="where to write the JSON")
    args = parser.parse_args(argv)
    if args.inner:
        inner(args.inner, args.toggle)
        return 0
    results: dict[str, Any] = {"n": N, "requests": REQUESTS, "instructions_per_request": {}}
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        library = compile_toggle(scratch)
        for i, scenario in enumerate(SCENARIOS, 1):
            print(f"[{i}/{len(SCENARIOS)}] {scenario} under callgrind …", file=sys.stderr)
            total = measure(scenario, scratch, library)
            per_request = total / REQUESTS
            results["instructions_per_request"][scenario] = per_request
            print(f"      {per_request:,.0f} instructions per request", file=sys.stderr)
    counts = results["instructions_per_request"]
    for scenario in ("paired", "shorthand"):
        results[f"{scenario}_overhead"] = counts[scenario] / counts["hand"] - 1
    results["goal_overhead"] = GOAL
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    return 0


def render(results: dict[str, Any]) -> str:
    """The report's section: a table of instructions per request and the goal."""
    counts = results["instructions_per_request"]
    hand = counts["hand"]
    lines = [
        "| scenario | instructions per request | vs hand-written |",
        "| --- | ---: | ---: |",
    ]
    labels = {
        "hello": "`/hello`, no extension",
        "hand": "hand-written view calling Rust + `jsonify`, no extension",
        "hello_rp": "`/hello`, extension installed",
        "paired": "the same view, paired, calling a kernel",
        "shorthand": "JSON shorthand route of the kernel",
    }
    for scenario in SCENARIOS:
        lines.append(
            f"| {labels[scenario]} | {counts[scenario]:,.0f} | {counts[scenario] / hand:.3f}x |"
        )
    goal = results["goal_overhead"]
    for scenario in ("paired", "shorthand"):
        overhead = results[f"{scenario}_overhead"]
        verdict = "met" if overhead <= goal else "NOT met"
        lines.append("")
        lines.append(
            f"- {scenario}: the extension adds {overhead:+.1%} over the hand-written view "
            f"(goal at most {goal:.0%}: {verdict})."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
