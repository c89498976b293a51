"""``python -m bench.per_request``: what the extension adds to a request, in instructions.

Wall-clock time on a shared machine swings 3x between runs; an instruction count under
callgrind is the same for the same code every run. Each scenario runs in its own
``valgrind --tool=callgrind --collect-atstart=no`` process with ``PYTHONHASHSEED=0``:
start-up and a warm-up run uncounted, then a 3-line C helper switches collection on
around the measured loop only (``CALLGRIND_TOGGLE_COLLECT``), so the figure is the
cost of the requests and nothing else.

Each request is a direct WSGI call with a fresh environ, as a server makes it, with the
response body consumed: Flask's whole request path, no socket, no test client.

Scenarios, all at ``n = 100``. The baselines run in an app without the extension
that has the same URL rules, so a ratio is what the extension adds and nothing else:

- ``hello``: Flask's cheapest view;
- ``hand``: a hand-written view calling the Rust function and returning ``jsonify``,
  the baseline of every JSON form;
- ``hand_python``: the same view calling the Python reference, the baseline of ``/python``;
- ``hand_html``: a hand-written view calling Rust and rendering a template, the
  baseline of the HTML forms;

and in an app with the extension:

- ``hello_rp``: ``/hello`` (its cost on unrelated URLs);
- ``paired`` and ``paired_rust``: the hand-written view, paired, calling a kernel, on
  its plain URL and on ``/rust<rule>``;
- ``paired_python``: the same view on ``/python<rule>``;
- ``shorthand`` and ``shorthand_rust``: the JSON shorthand route of the kernel, on its
  plain URL and on ``/rust<rule>``;
- ``html`` and ``html_rust``: the template view, paired, on both URLs.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULT = BENCH_DIR / "per_request.json"
# scenario -> (the baseline it is divided by, its label in the report)
SCENARIOS: dict[str, tuple[str, str]] = {
    "hello": ("hello", "`/hello`, no extension"),
    "hand": ("hand", "hand-written view: Rust + `jsonify`, no extension"),
    "hand_python": ("hand_python", "hand-written view: Python reference + `jsonify`"),
    "hand_html": ("hand_html", "hand-written view: Rust + `render_template`"),
    "hello_rp": ("hello", "`/hello`, extension installed"),
    "paired": ("hand", "paired view, plain URL"),
    "paired_rust": ("hand", "paired view on `/rust`"),
    "paired_python": ("hand_python", "paired view on `/python`"),
    "shorthand": ("hand", "JSON route, plain URL"),
    "shorthand_rust": ("hand", "JSON route on `/rust`"),
    "html": ("hand_html", "paired template view, plain URL"),
    "html_rust": ("hand_html", "paired template view on `/rust`"),
}
BASELINES = ("hello", "hand", "hand_python", "hand_html")
# The forms the goal is set on: a paired view and a JSON route, plain and on /rust.
GOAL_FORMS = ("shorthand", "shorthand_rust", "paired", "paired_rust")
N = 100
WARMUP = 300
REQUESTS = 2000
GOAL = 1.03  # each form may cost at most 1.03x the hand-written view
MOONSHOT = 1.00  # a paired view costs no more than the hand-written view

TOGGLE_C = """#include <valgrind/callgrind.h>
void toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def build_app(scenario: str) -> tuple[Any, str]:
    """The WSGI app and the path one scenario requests.

    Both apps have the same rules (the hand-written views, and the paired ones, or the
    same views unpaired), so URL matching costs the same on both sides of a ratio.
    """
    from flask import Flask, jsonify, render_template

    from flask_rustpath import RustPath, _native
    from flask_rustpath.kernels import sum_of_primes_naive

    app = Flask("per_request", template_folder=str(BENCH_DIR / "templates"))
    steps = ("mark", "sieve", "sum")

    @app.get("/hello")
    def hello() -> str:
        return "Hello, World!"

    @app.get("/hand/<int:n>")
    def hand(n: int) -> Any:
        return jsonify(result=_native.sum_of_primes(n))

    @app.get("/hand_python/<int:n>")
    def hand_python(n: int) -> Any:
        return jsonify(result=sum_of_primes_naive(n))

    @app.get("/hand_html/<int:n>")
    def hand_html(n: int) -> Any:
        result = _native.sum_of_primes(n)
        return render_template("per_request.html", n=n, result=result, steps=steps)

    extension = scenario not in BASELINES
    rustpath = RustPath(app) if extension else None
    kernel: Any = sum_of_primes_naive
    paired: Any = lambda view: view  # noqa: E731 - the baseline app's views stay unpaired
    if rustpath is not None:
        kernel = rustpath.kernel(rust=_native.sum_of_primes, name="sum_of_primes")(
            sum_of_primes_naive
        )
        paired = rustpath.paired

    @app.get("/paired/<int:n>")
    @paired
    def paired_view(n: int) -> Any:
        return jsonify(result=kernel(n))

    @app.get("/html/<int:n>")
    @paired
    def html(n: int) -> Any:
        return render_template("per_request.html", n=n, result=kernel(n), steps=steps)

    if rustpath is not None:
        rustpath.route("/shorthand/<int:n>", kernel)
    else:

        @app.get("/shorthand/<int:n>")
        def shorthand(n: int) -> Any:
            return jsonify(result=kernel(n))

    paths = {
        "hello": "/hello",
        "hello_rp": "/hello",
        "hand": f"/hand/{N}",
        "hand_python": f"/hand_python/{N}",
        "hand_html": f"/hand_html/{N}",
        "paired": f"/paired/{N}",
        "paired_rust": f"/rust/paired/{N}",
        "paired_python": f"/python/paired/{N}",
        "shorthand": f"/shorthand/{N}",
        "shorthand_rust": f"/rust/shorthand/{N}",
        "html": f"/html/{N}",
        "html_rust": f"/rust/html/{N}",
    }
    return app, paths[scenario]


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
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="scenarios under callgrind at once"
    )
    args = parser.parse_args(argv)
    if args.inner:
        inner(args.inner, args.toggle)
        return 0
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        library = compile_toggle(scratch)
        # A count does not depend on what else runs, so the scenarios run side by side.
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            runs = {s: pool.submit(measure, s, scratch, library) for s in SCENARIOS}
            for i, (scenario, run) in enumerate(runs.items(), 1):
                counts[scenario] = run.result() / REQUESTS
                print(
                    f"[{i}/{len(SCENARIOS)}] {scenario}: "
                    f"{counts[scenario]:,.0f} instructions per request",
                    file=sys.stderr,
                )
    results = summarize(counts)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    return 0


def summarize(counts: dict[str, float]) -> dict[str, Any]:
    """The JSON the report renders: each count, and each form's ratio to its baseline."""
    return {
        "commit": measured_commit(),
        "n": N,
        "requests": REQUESTS,
        "instructions_per_request": counts,
        "ratio": {
            scenario: counts[scenario] / counts[baseline]
            for scenario, (baseline, _label) in SCENARIOS.items()
            if scenario not in BASELINES
        },
        "goal_forms": list(GOAL_FORMS),
        "goal": GOAL,
        "moonshot": MOONSHOT,
    }


def measured_commit() -> str:
    """The commit the counts are of, ``-dirty`` when the tree had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            # The JSON this run writes is not the code it measures.
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                f":!{RESULT.relative_to(ROOT)}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def render(results: dict[str, Any]) -> str:
    """The report's section: a table of instructions per request, and the goal's verdict.
    The documentation's performance page renders the same table (a test checks it)."""
    counts = results["instructions_per_request"]
    ratios = results["ratio"]
    lines = [
        f"Counted at commit `{results.get('commit', 'unknown')}`.",
        "",
        "| scenario | instructions per request | vs its baseline |",
        "| --- | ---: | ---: |",
    ]
    for scenario, (baseline, label) in SCENARIOS.items():
        ratio = f"{ratios[scenario]:.3f}x `{baseline}`" if scenario in ratios else "baseline"
        lines.append(f"| `{scenario}`: {label} | {counts[scenario]:,.0f} | {ratio} |")
    goal = results["goal"]
    missed = [form for form in results["goal_forms"] if ratios[form] > goal]
    verdict = "met" if not missed else f"NOT met by {', '.join(missed)}"
    worst = max(ratios[form] for form in results["goal_forms"])
    lines += [
        "",
        f"- Goal: each of {', '.join(f'`{f}`' for f in results['goal_forms'])} at most "
        f"{goal:.2f}x the hand-written view: {verdict} (the worst is {worst:.3f}x).",
    ]
    moonshot = results["moonshot"]
    paired = ratios["paired"]
    lines.append(
        f"- Moonshot: a paired view at most {moonshot:.2f}x the hand-written view: "
        + ("met" if paired <= moonshot else "not met")
        + f" ({paired:.3f}x)."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
