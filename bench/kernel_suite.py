"""The kernel suite: every implementation at every n, primesieve as the anchor.

Cases run n-major (all implementations at one n, then the next n), so the numbers a
ratio compares were taken close together in time on a noisy machine. A case is skipped,
with its reason kept for the report, when the implementation caps n or when its time
extrapolated from the previous n would blow the per-call budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import kernels, memory, primesieve
from .plan import KernelImpl, Plan
from .progress import Progress
from .reference import KNOWN_SUMS, short_n


def step_count(plan: Plan) -> int:
    """Build the anchor, one step per (n, implementation), and the memory probe."""
    cases = len(plan.kernel_ns) * len(plan.kernel_impls)
    probes = sum(1 for n in (plan.memory_n, plan.sublinear_memory_n) if n is not None)
    return 1 + cases + probes


def _case(impl: KernelImpl, n: int) -> dict[str, Any]:
    return {
        "impl": impl.impl,
        "threads": impl.threads,
        "column": impl.column,
        "n": n,
        "status": "skipped",
        "reason": "",
        "sum": None,
        "sum_ok": None,
    }


def _skip_reason(
    impl: KernelImpl, n: int, plan: Plan, previous: tuple[int, float] | None
) -> str | None:
    if impl.max_n is not None and n > impl.max_n:
        return f"n > {short_n(impl.max_n)}: {impl.max_n_reason}"
    estimate = kernels.estimate_next(previous, n, impl.scaling)
    budget = impl.max_call_s or plan.kernel_max_call_s
    if estimate is not None and estimate > budget:
        prev_n = short_n(previous[0]) if previous else "?"
        return (
            f"estimated ~{estimate:.0f} s per call (from n={prev_n}), over the "
            f"{budget:g} s per-call budget"
        )
    return None


def _measure(
    impl: KernelImpl,
    n: int,
    plan: Plan,
    binary: Path | None,
    previous: tuple[int, float] | None,
) -> tuple[int, list[float]]:
    if impl.impl != "primesieve":
        kernel = kernels.in_process_kernel(impl)
        return kernels.time_kernel(
            kernel, n, max_repeats=plan.kernel_repeats, budget_s=plan.kernel_case_budget_s
        )
    if binary is None:
        raise primesieve.PrimesieveError("anchor not built")
    estimate = kernels.estimate_next(previous, n) or 0.0
    repeats = kernels.repeats_for(
        estimate, max_repeats=plan.kernel_repeats, budget_s=plan.kernel_case_budget_s
    )
    ran = primesieve.run(
        binary,
        n,
        threads=impl.threads,
        repeats=repeats,
        timeout_s=(repeats + 1) * plan.kernel_max_call_s * 3 + 60,
    )
    return ran["sum"], [float(s) for s in ran["seconds"]]


def run(plan: Plan, out_dir: Path, progress: Progress) -> dict[str, Any]:
    """Time every case; returns ``{"cases": [...], "primesieve": {...}, "memory": {...}}``."""
    suite: dict[str, Any] = {"cases": [], "primesieve": {}, "memory": None}
    binary = _build_anchor(out_dir, progress, suite["primesieve"])
    previous: dict[str, tuple[int, float]] = {}
    reference: dict[int, int] = {}
    for n in plan.kernel_ns:
        for impl in plan.kernel_impls:
            case = _case(impl, n)
            suite["cases"].append(case)
            progress.step(f"kernel {impl.column} n={short_n(n)}")
            reason = _skip_reason(impl, n, plan, previous.get(impl.column))
            if impl.impl == "primesieve" and binary is None:
                reason = f"primesieve unavailable: {suite['primesieve']['error']}"
            if reason:
                case["reason"] = reason
                progress.outcome(f"skipped: {reason}")
                continue
            try:
                answer, seconds = _measure(impl, n, plan, binary, previous.get(impl.column))
            except Exception as err:  # one broken case must not sink the whole report
                case.update(status="failed", reason=f"{type(err).__name__}: {err}")
                progress.outcome(f"FAILED: {case['reason']}")
                continue
            expected = KNOWN_SUMS.get(n, reference.setdefault(n, answer))
            case.update(kernels.summarize(seconds))
            case.update(status="ok", sum=str(answer), sum_ok=answer == expected)
            if not case["sum_ok"]:
                case.update(status="failed", reason=f"sum {answer} != expected {expected}")
            previous[impl.column] = (n, case["median_s"])
            progress.outcome(
                f"median {case['median_s'] * 1e3:.2f} ms of {case['repeats']}"
                + ("" if case["sum_ok"] else f"; WRONG SUM: {case['reason']}")
            )
    if plan.memory_n is not None:
        suite["memory"] = _memory(plan.memory_n, plan, progress, "sieve", reference)
    if plan.sublinear_memory_n is not None:
        suite["memory_sublinear"] = _memory(
            plan.sublinear_memory_n, plan, progress, "sublinear", reference
        )
    return suite


def _build_anchor(out_dir: Path, progress: Progress, info: dict[str, Any]) -> Path | None:
    progress.step("build the primesieve anchor (g++ -O3, -lprimesieve)")
    reason = primesieve.unavailable_reason()
    if reason is None:
        try:
            binary = primesieve.build(out_dir / "build")
            info["version"] = primesieve.version(binary)
            info["error"] = None
            progress.outcome(f"primesieve {info['version']}")
            return binary
        except primesieve.PrimesieveError as err:
            reason = str(err)
    info["error"] = reason
    progress.outcome(f"unavailable: {reason}")
    return None


def _memory(
    n: int, plan: Plan, progress: Progress, method: str, answers: dict[int, int]
) -> dict[str, Any]:
    """The probe's sum is checked against the known table, else the timed cases' answer."""
    progress.step(
        f"peak extra RSS of _native.sum_of_primes({short_n(n)}, method={method!r}) "
        "in a child process"
    )
    try:
        result = memory.measure(
            n, timeout_s=max(300.0, plan.kernel_max_call_s * 40), method=method
        )
    except Exception as err:  # reported, not fatal
        progress.outcome(f"FAILED: {err}")
        return {"n": n, "kernel_method": method, "error": f"{type(err).__name__}: {err}"}
    expected = KNOWN_SUMS.get(n, answers.get(n))
    result["sum_ok"] = expected is None or int(result["sum"]) == expected
    result["error"] = None if result["sum_ok"] else f"sum {result['sum']} != {expected}"
    progress.outcome(
        f"{result['extra_mib']:.2f} MiB extra over {result['seconds']:.1f} s"
        + ("" if result["sum_ok"] else f"; WRONG SUM {result['sum']}")
    )
    return result
