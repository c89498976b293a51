"""The HTTP suite: each server of the plan (gunicorn or Granian), each of its rows under hey.

Every row is checked once for the right answer before any load (hey never looks at
bodies), warmed up with a discarded hey run, then measured at each concurrency. A row
fails on any error or non-2xx response, and a failed row has no throughput.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask_rustpath.serving import hey

from .plan import HttpRow, Plan, ServerSpec
from .progress import Progress
from .server import ServerError, fetch, kind_of, serve


def step_count(plan: Plan) -> int:
    """Start each server, check each row, one hey run per row and concurrency."""
    return len(plan.servers) + sum(1 + len(row.concurrency) for row in plan.http_rows)


def check_answer(base: str, row: HttpRow, timeout_s: float) -> list[str]:
    """One plain GET: the status must be 200 and the body the expected answer."""
    status, body = fetch(base + row.path, timeout=timeout_s)
    if status != 200:
        return [f"GET {row.path} answered {status}: {body[:300].decode(errors='replace')}"]
    if isinstance(row.expect, str) and body.decode(errors="replace") != row.expect:
        return [f"GET {row.path} answered {body[:100]!r}, expected {row.expect!r}"]
    if isinstance(row.expect, int):
        try:
            result = json.loads(body)["result"]
        except (ValueError, KeyError, TypeError):
            return [f"GET {row.path} answered {body[:100]!r}, not {{'result': ...}}"]
        if result != row.expect:
            return [f"GET {row.path} answered {result}, expected {row.expect}"]
    return []


def _row_result(row: HttpRow, spec: ServerSpec, concurrency: int) -> dict[str, Any]:
    return {
        "server": spec.name,
        "row": row.key,
        "label": row.label,
        "path": row.path,
        "concurrency": concurrency,
        "ok": False,
        "problems": [],
        "ok_rps": None,
        "hey": None,
    }


def _load(base: str, row: HttpRow, plan: Plan, result: dict[str, Any]) -> None:
    try:
        summary = hey.run(
            base + row.path,
            concurrency=result["concurrency"],
            duration_s=plan.duration_s,
            request_timeout_s=plan.request_timeout_s,
        )
    except hey.HeyError as err:
        result["problems"] = [str(err)]
        return
    result["hey"] = summary.to_json()
    result["problems"] = summary.problems()
    result["ok"] = not result["problems"]
    result["ok_rps"] = summary.ok_rps if result["ok"] else None


def _describe(result: dict[str, Any]) -> str:
    if not result["ok"]:
        return "FAILED: " + "; ".join(result["problems"])[:500]
    latency = result["hey"]["latency_s"]
    p50, p99 = latency.get("50%"), latency.get("99%")
    extra = f" (p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms)" if p50 and p99 else ""
    return f"{result['ok_rps']:.1f} req/s, {result['hey']['ok_responses']} x 2xx{extra}"


def run_server(
    spec: ServerSpec, plan: Plan, out_dir: Path, progress: Progress
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Serve ``spec`` and run its rows; a server that will not start fails its rows."""
    rows = [row for row in plan.http_rows if row.server == spec.name]
    results = [_row_result(row, spec, c) for row in rows for c in row.concurrency]
    log = out_dir / "logs" / f"{spec.kind}-{spec.name}.log"
    info: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "command": kind_of(spec).command(spec),
        "description": spec.description,
        "workers": spec.workers,
        "threads": spec.threads,
        "env": dict(spec.env),
        "app": spec.app or "demo",
        "log": log.relative_to(out_dir).as_posix(),
        "error": None,
    }
    first_step = progress.done
    progress.step(
        f"start {spec.kind} {spec.name} ({spec.workers} workers x {spec.threads} threads)"
    )
    try:
        with serve(spec, log) as base:
            progress.outcome("ready")
            for row in rows:
                _run_row(base, row, plan, progress, [r for r in results if r["row"] == row.key])
    except ServerError as err:
        info["error"] = str(err)
        progress.outcome(f"FAILED: {err}")
    for result in results:
        if not result["ok"] and not result["problems"]:
            result["problems"] = [f"server {spec.name} failed: {info['error']}"]
    # Steps a failed server or row never ran still count as done, so totals add up.
    progress.done = first_step + 1 + sum(1 + len(row.concurrency) for row in rows)
    return info, results


def _run_row(
    base: str, row: HttpRow, plan: Plan, progress: Progress, results: list[dict[str, Any]]
) -> None:
    progress.step(f"check {row.path} and warm up {plan.warmup_s:g} s")
    problems = check_answer(base, row, timeout_s=plan.request_timeout_s)
    if not problems:
        try:
            warm = hey.run(
                base + row.path,
                concurrency=max(row.concurrency),
                duration_s=plan.warmup_s,
                request_timeout_s=plan.request_timeout_s,
            )
            problems = [f"warm-up: {p}" for p in warm.problems()]
        except hey.HeyError as err:
            problems = [f"warm-up: {err}"]
    progress.outcome("FAILED: " + "; ".join(problems) if problems else "answer ok")
    if problems:
        progress.done += len(results)  # the load steps this row will not run
    for result in results:
        if problems:
            result["problems"] = list(problems)
            continue
        progress.step(f"hey {row.path} c={result['concurrency']} {plan.duration_s:g} s")
        _load(base, row, plan, result)
        progress.outcome(_describe(result))
