"""The project's goals P1-P6 and S1-S3 (and drift row D1), evaluated against one run's results.

A goal compares two measurements taken in the same run. Where it applies at several
concurrencies or thread counts, it is evaluated at each; it is "met" only if met at all
of them, "partly met" if at some. A goal whose inputs failed or were skipped is "not
measured", never met.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .plan import rust_key
from .reference import BEST_KNOWN_S, SIEVE_TABLE_S, short_n

Comparison = Callable[[float, float], bool]
OPS: dict[str, Comparison] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Goal:
    id: str
    title: str
    op: str
    threshold: float
    unit: str
    note: str = ""
    informational: bool = False  # shown with its value, never met or missed


def http_rps(results: dict[str, Any], server: str, row: str) -> dict[int, float | None]:
    """2xx req/s of one row on one server, by concurrency (None where the row failed)."""
    return {
        r["concurrency"]: r["ok_rps"]
        for r in results.get("http", [])
        if r["server"] == server and r["row"] == row
    }


def kernel_median(results: dict[str, Any], impl: str, threads: int, n: int) -> float | None:
    for case in results.get("kernels", {}).get("cases", []):
        if (case["impl"], case["threads"], case["n"]) == (impl, threads, n):
            return case.get("median_s") if case["status"] == "ok" else None
    return None


def _ratios(
    top: dict[Any, float | None], bottom: dict[Any, float | None], label: str
) -> list[tuple[str, float | None]]:
    return [
        (f"{label}{key}", (top[key] / bottom[key]) if top.get(key) and bottom.get(key) else None)
        for key in sorted(set(top) | set(bottom))
    ]


def _status(goal: Goal, values: list[tuple[str, float | None]]) -> str:
    measured = [v for _, v in values if v is not None]
    if goal.informational:
        return "for reference" if measured else "not measured"
    if not values or len(measured) < len(values):
        return "not measured" if not measured else _partial(goal, measured, incomplete=True)
    return _partial(goal, measured, incomplete=False)


def _partial(goal: Goal, measured: list[float], *, incomplete: bool) -> str:
    hits = [OPS[goal.op](v, goal.threshold) for v in measured]
    if all(hits) and not incomplete:
        return "met"
    return "partly met" if any(hits) else "not met"


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with its per-condition values and status, for JSON and the report."""
    plan = results["plan"]
    small, large, kn = (plan["goal_n"][k] for k in ("small", "large", "kernel"))
    cores = results["machine"]["usable_cores"]
    goals: list[tuple[Goal, list[tuple[str, float | None]]]] = [
        (
            Goal(
                "P1",
                f"/rust ÷ naive /python req/s at n={short_n(small)}",
                ">=",
                500,
                "x",
                "the blog measured 28x",
            ),
            _ratios(
                http_rps(results, "main", rust_key(small)),
                http_rps(results, "main", "python-naive"),
                "c=",
            ),
        ),
        (
            Goal("P2", f"/rust at n={short_n(small)} ÷ /hello req/s", ">=", 0.95, "x"),
            _ratios(
                http_rps(results, "main", rust_key(small)),
                http_rps(results, "main", "hello"),
                "c=",
            ),
        ),
        (
            Goal("P3", f"/rust ÷ NumPy-sieve endpoint req/s at n={short_n(large)}", ">=", 25, "x"),
            _ratios(
                http_rps(results, "main", rust_key(large)),
                http_rps(results, "main", "numpy-large"),
                "c=",
            ),
        ),
        (
            Goal(
                "P4",
                f"Rust kernel time ÷ primesieve time at n={short_n(kn)}, same threads",
                "<=",
                1.0,
                "x",
            ),
            [
                (
                    f"{t} thread{'s' if t > 1 else ''}",
                    _div(
                        kernel_median(results, "rust", t, kn),
                        kernel_median(results, "primesieve", t, kn),
                    ),
                )
                for t in sorted({1, cores})
            ],
        ),
        (
            Goal(
                "P5",
                f"2 ÷ 1 gunicorn threads req/s on /rust at n={short_n(large)}",
                ">=",
                1.8,
                "x",
                "one gthread worker, RUSTPATH_THREADS=1",
            ),
            _ratios(
                http_rps(results, "gil-2t", "scaling-rust"),
                http_rps(results, "gil-1t", "scaling-rust"),
                "c=",
            ),
        ),
        (
            Goal(
                "P6",
                f"peak extra RSS of sum_of_primes({short_n(_memory_n(results))})",
                "<=",
                2.0,
                "MiB",
            ),
            [("", _memory_value(results))],
        ),
    ]
    goals += _sublinear_goals(results)
    return [
        {
            "id": goal.id,
            "title": goal.title,
            "target": _target(goal),
            "note": goal.note,
            "values": [{"at": at, "value": value} for at, value in values],
            "status": _status(goal, values),
        }
        for goal, values in goals
    ]


def _sublinear_goals(results: dict[str, Any]) -> list[tuple[Goal, list[tuple[str, float | None]]]]:
    """Issue 11: the sublinear sum against the best known program, one thread."""
    out: list[tuple[Goal, list[tuple[str, float | None]]]] = []
    for gid, n in (("S1", 10**12), ("S2", 10**15)):
        ours = kernel_median(results, "rust-sublinear", 1, n)
        out.append(
            (
                Goal(
                    gid,
                    f"sublinear sum_of_primes({short_n(n)}) on 1 thread ÷ the best known "
                    f"program's {BEST_KNOWN_S[n]:g} s",
                    "<=",
                    1.0,
                    "x",
                ),
                [("1 thread", _div(ours, BEST_KNOWN_S[n]))],
            )
        )
    out.append(
        (
            Goal(
                "S3",
                "peak extra RSS of sum_of_primes"
                f"({short_n(_memory_n(results, 'memory_sublinear'))}, method='sublinear')",
                "<=",
                16.0,
                "MiB",
            ),
            [("", _memory_value(results, "memory_sublinear"))],
        )
    )
    n = 10**10
    out.append(
        (
            Goal(
                "D1",
                f"drift: our sieve at {short_n(n)} on 1 thread now ÷ the {SIEVE_TABLE_S[n]:g} s "
                "in issue 11's table",
                "<=",
                1.0,
                "x",
                "a value far from 1 means the machine is faster or slower than when the "
                "best-known figures were taken",
                informational=True,
            ),
            [("1 thread", _div(kernel_median(results, "rust", 1, n), SIEVE_TABLE_S[n]))],
        )
    )
    return out


def _target(goal: Goal) -> str:
    """``>= 500x`` or ``<= 2 MiB``: ratios read as multiples, sizes with a space."""
    if goal.informational:
        return "≈ 1x"
    space = " " if goal.unit == "MiB" else ""
    return f"{'≥' if goal.op == '>=' else '≤'} {goal.threshold:g}{space}{goal.unit}"


def _div(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top and bottom else None


def _memory_n(results: dict[str, Any], key: str = "memory") -> int:
    memory = results.get("kernels", {}).get(key) or {}
    plan_key = "memory_n" if key == "memory" else "sublinear_memory_n"
    return int(memory.get("n") or results["plan"].get(plan_key) or 0)


def _memory_value(results: dict[str, Any], key: str = "memory") -> float | None:
    memory = results.get("kernels", {}).get(key) or {}
    if memory.get("error") or "extra_mib" not in memory:
        return None
    return float(memory["extra_mib"])
