"""``python -m bench``: run the default plan and write the report.

Full runs write raw JSON to bench/results/ (gitignored) and the committed report to
bench/REPORT.md. ``--quick`` is a ~1-minute smoke test that never touches the committed
report: it writes everything to ``--out DIR`` or a fresh temporary directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from .plan import default_plan
from .runner import BenchError, rerender, run

BENCH_DIR = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small n, 1 s load runs (~1 min)")
    parser.add_argument(
        "--out",
        type=Path,
        help="write raw JSON and the report here (default: bench/results + bench/, or a "
        "temporary directory with --quick)",
    )
    parser.add_argument(
        "--suite",
        choices=["all", "http", "kernels"],
        default="all",
        help="run only the HTTP suite or only the kernel suite",
    )
    parser.add_argument("--duration", type=float, help="seconds of hey load per row and c")
    parser.add_argument(
        "--from-json", type=Path, help="only re-render the report of a saved run (needs --out)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        if args.out is None:
            print("--from-json needs --out DIR", file=sys.stderr)
            return 2
        print(rerender(args.from_json, args.out), file=sys.stderr)
        return 0
    plan = default_plan(quick=args.quick, duration_s=args.duration)
    plan = dataclasses.replace(
        plan, http=args.suite in ("all", "http"), kernels=args.suite in ("all", "kernels")
    )
    if args.out is not None:
        raw_dir = report_dir = args.out
    elif args.quick:
        raw_dir = report_dir = Path(tempfile.mkdtemp(prefix="rustpath-bench-quick-"))
    else:
        raw_dir, report_dir = BENCH_DIR / "results", BENCH_DIR
    try:
        output = run(plan, raw_dir=raw_dir, report_dir=report_dir)
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    if not output.ok:
        print("bench: some rows or cases FAILED; see the report's warnings", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
