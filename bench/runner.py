"""``run()``: execute a plan, write the raw JSON, then the report.

The one entry point of ``python -m bench``; a plan says what to measure and where the
files go.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask_rustpath.serving import hey

from . import goals, http_suite, kernel_suite, machine, report, server
from .plan import Plan
from .progress import Progress


class BenchError(RuntimeError):
    """The run cannot start (e.g. hey missing for an HTTP suite)."""


@dataclasses.dataclass
class RunOutput:
    """Where a run left its files, and whether everything it measured was correct."""

    results: dict[str, Any]
    raw_json: Path
    report: Path
    ok: bool


def _plan_json(plan: Plan) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(plan), default=str))


def run(
    plan: Plan,
    *,
    raw_dir: Path,
    report_dir: Path,
    progress: Progress | None = None,
) -> RunOutput:
    """Run ``plan``: raw JSON into ``raw_dir``, REPORT.md/report.png/report.json into
    ``report_dir``. Failures of single rows or cases are recorded, not raised."""
    if plan.http and hey.hey_path() is None:
        raise BenchError("hey is not installed (Debian/Ubuntu: apt-get install -y hey)")
    if plan.http:
        for spec in plan.servers:
            try:
                reason = server.kind_of(spec).missing()
            except ValueError as err:
                raise BenchError(str(err)) from None
            if reason is not None:
                raise BenchError(f"server {spec.name!r} cannot start: {reason}")
    total = (http_suite.step_count(plan) if plan.http else 0) + (
        kernel_suite.step_count(plan) if plan.kernels else 0
    )
    progress = progress or Progress(total)
    progress.total = total
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    raw_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    raw_json = raw_dir / f"run-{plan.mode}-{stamp}.json"
    progress.note(f"{plan.mode} run: {total} steps; raw results will go to {raw_json}")

    results: dict[str, Any] = {
        "schema": 1,
        "started": started.isoformat(timespec="seconds"),
        "plan": _plan_json(plan),
        "machine": machine.describe(),
        "servers": [],
        "http": [],
        "kernels": {},
        "warnings": [],
    }
    if plan.http:
        for spec in plan.servers:
            info, rows = http_suite.run_server(spec, plan, raw_dir, progress)
            results["servers"].append(info)
            results["http"] += rows
    if plan.kernels:
        results["kernels"] = kernel_suite.run(plan, raw_dir, progress)
    before, after = results["machine"]["native_module"], machine.native_module()
    if (before or {}).get("sha256") != (after or {}).get("sha256"):
        results["warnings"].append(
            f"the native module changed during the run (sha256 {(before or {}).get('sha256')}"
            f" → {(after or {}).get('sha256')}): servers and kernels that loaded it after the "
            "change measured the new build"
        )
    # Only the load before the run counts: by its end the load is the harness's own.
    load = results["machine"]["load_average_1min"] or 0.0
    if load > 0.5 * results["machine"]["usable_cores"]:
        results["warnings"].append(
            f"the machine was busy with other work (1-minute load average {load:g} at the "
            f"start, on {results['machine']['usable_cores']} cores): multi-thread and concurrency "
            "scaling (the 2-thread columns, P4 at more than 1 thread, P5) is understated"
        )
    results["elapsed_s"] = time.monotonic() - clock
    results["goals"] = goals.evaluate(results)
    results["ok"] = all_correct(results)
    raw_json.write_text(json.dumps(results, indent=1) + "\n")
    report_path = report.write(results, report_dir)
    progress.note(f"report: {report_path}")
    return RunOutput(results, raw_json, report_path, results["ok"])


def all_correct(results: dict[str, Any]) -> bool:
    """Every HTTP row answered 2xx only, every kernel sum was right, nothing failed."""
    http_ok = all(r["ok"] for r in results.get("http", []))
    suite = results.get("kernels") or {}
    cases_ok = all(c["status"] != "failed" for c in suite.get("cases", []))
    memory = suite.get("memory")
    memory_ok = memory is None or not memory.get("error")
    servers_ok = all(s["error"] is None for s in results.get("servers", []))
    return http_ok and cases_ok and memory_ok and servers_ok


def rerender(raw_json: Path, report_dir: Path) -> Path:
    """Write the report again from a saved run (e.g. after changing the report's layout)."""
    results = json.loads(raw_json.read_text())
    results["goals"] = goals.evaluate(results)
    return report.write(results, report_dir)
