"""The benchmark harness: hey's summary parsed right, and ``python -m bench --quick`` works.

The smoke test asserts that the harness runs end to end, writes its files and saw only
200s with correct answers: never a speed, since CI machines are shared and noisy. It
needs ``hey``, ``g++`` and ``libprimesieve-dev``; without them it skips, except under
``CI=true``, where a missing tool is a failure rather than a silent skip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bench
from bench import primesieve, server
from flask_rustpath.serving import hey

from . import support

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_REPORT = ROOT / "bench" / "REPORT.md"

HEY_OUTPUT = """
Summary:
  Total:\t2.0031 secs
  Slowest:\t0.0210 secs
  Fastest:\t0.0004 secs
  Average:\t0.0021 secs
  Requests/sec:\t1000.0000

  Total data:\t33222 bytes
  Size/request:\t21 bytes

Latency distribution:
  10% in 0.0012 secs
  50% in 0.0021 secs
  99% in 0.0070 secs
  0% in 0.0000 secs

Status code distribution:
  [200]\t1900 responses
  [503]\t50 responses

Error distribution:
  [53]\tGet "http://127.0.0.1:9/x": dial tcp 127.0.0.1:9: connect: connection refused

"""


def test_hey_summary_counts_only_2xx_as_throughput() -> None:
    summary = hey.parse(HEY_OUTPUT)
    assert summary.total_s == pytest.approx(2.0031)
    assert summary.requests_per_sec == pytest.approx(1000.0)  # hey's, errors included
    assert summary.status_codes == {200: 1900, 503: 50}
    assert summary.ok_rps == pytest.approx(1900 / 2.0031)
    assert summary.latency_s == {"10%": 0.0012, "50%": 0.0021, "99%": 0.007}
    problems = summary.problems()
    assert "50 x HTTP 503" in problems
    assert any(p.startswith("53 x ") and "connection refused" in p for p in problems)


def test_hey_summary_of_a_clean_run_has_no_problems() -> None:
    clean = HEY_OUTPUT.replace("  [503]\t50 responses\n", "").split("Error distribution")[0]
    assert hey.parse(clean).problems() == []


def test_hey_summary_with_no_answers_is_a_problem_not_a_speed() -> None:
    refused = (
        "Summary:\n  Total:\t0.0007 secs\n  Average:\t NaN secs\n  Requests/sec:\t5352.1\n\n"
        "Status code distribution:\n\nError distribution:\n  [4]\tGet x: connection refused\n"
    )
    summary = hey.parse(refused)
    assert summary.average_s is None
    assert summary.ok_rps == 0
    assert "no successful responses" in summary.problems()


def test_hey_refuses_non_loopback_urls() -> None:
    with pytest.raises(hey.HeyError, match="non-loopback"):
        hey.run("http://192.0.2.1:80/", concurrency=1, duration_s=0.1)


def test_every_server_of_the_default_plan_has_a_known_kind() -> None:
    plans = (bench.default_plan(), bench.default_plan(quick=True))
    kinds = {spec.kind for plan in plans for spec in plan.servers}
    assert kinds == {"gunicorn", "granian"}
    assert kinds <= set(server.KINDS)
    with pytest.raises(ValueError, match="known kinds: gunicorn, granian"):
        server.kind_of(bench.ServerSpec("x", 1, 1, kind="front"))


def _require_tools() -> None:
    missing = []
    if hey.hey_path() is None:
        missing.append("hey (apt-get install -y hey)")
    if importlib.util.find_spec("granian") is None:
        missing.append("granian (pip install granian)")
    reason = primesieve.unavailable_reason()
    if reason is not None:
        missing.append(reason)
    if missing:
        support.missing("benchmark tools missing: " + "; ".join(missing))


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.mark.slow
def test_quick_bench_runs_end_to_end_and_every_response_was_200(tmp_path: Path) -> None:
    _require_tools()
    committed_before = _digest(COMMITTED_REPORT)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    assert re.search(r"^\[\s*\d+/\d+\] hey /rust/sum_of_primes/\d+ c=\d+", done.stderr, re.M)
    assert _digest(COMMITTED_REPORT) == committed_before, "quick run touched bench/REPORT.md"

    for name in ("REPORT.md", "report.png", "report.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    (raw,) = tmp_path.glob("run-quick-*.json")
    results = json.loads(raw.read_text())
    assert results["ok"] is True

    assert {s["name"]: s["kind"] for s in results["servers"]} == {
        "main": "gunicorn",
        "granian": "granian",
        "gil-1t": "gunicorn",
        "gil-2t": "gunicorn",
    }
    assert all(s["error"] is None for s in results["servers"])
    # Granian's rows are main's rows under the same keys, so the report compares them.
    granian_rows = {r["row"]: r["path"] for r in results["http"] if r["server"] == "granian"}
    main_rows = {r["row"]: r["path"] for r in results["http"] if r["server"] == "main"}
    assert set(granian_rows) == {"hello", "rust-1e4"}
    assert all(main_rows[key] == path for key, path in granian_rows.items())
    assert results["http"]
    for row in results["http"]:
        assert row["ok"], (row["path"], row["problems"])
        assert set(row["hey"]["status_codes"]) == {"200"}, row["path"]
        assert row["hey"]["errors"] == {}, row["path"]
        assert row["hey"]["ok_responses"] > 0, row["path"]

    suite = results["kernels"]
    assert suite["primesieve"]["error"] is None
    assert not [c for c in suite["cases"] if c["status"] == "failed"]
    measured = [c for c in suite["cases"] if c["status"] == "ok"]
    assert all(c["sum_ok"] for c in measured)
    assert {c["impl"] for c in measured} == {
        "rust",
        "rust-sublinear",
        "numpy",
        "python-sieve",
        "primesieve",
    }
    for probe in ("memory", "memory_sublinear"):
        assert suite[probe]["error"] is None and suite[probe]["sum_ok"], probe

    goal_ids = [g["id"] for g in results["goals"]]
    assert goal_ids == ["P1", "P2", "P3", "P4", "P5", "P6", "S1", "S2", "S3", "D1"]
    report = (tmp_path / "REPORT.md").read_text()
    assert "Quick run" in report and "## Goals" in report and "report.png" in report
    compared = report.split("## Servers compared", 1)[1].split("\n## ", 1)[0]
    for path in ("/hello", "/rust/sum_of_primes/10000"):
        for cell in ("gunicorn (`main`)", "granian (`granian`)"):
            assert re.search(rf"`{path}` \| {re.escape(cell)} \| \d", compared), (path, cell)


def test_the_serving_section_is_found_replaced_or_appended(tmp_path: Path) -> None:
    from bench import report
    from bench import serving_suite as serving_bench

    section = (
        f"{serving_bench.SECTION_START}\n## Serving\n| row | wrk |\n{serving_bench.SECTION_END}\n"
    )
    path = tmp_path / report.REPORT_NAME
    path.write_text("# an older kernel report\n\n" + section + "a line after it\n")
    kept = serving_bench.section_in(path.read_text())
    assert kept == section
    rewritten = serving_bench.splice("# a new kernel report\n", section)
    assert rewritten == "# a new kernel report\n\n" + section
    assert serving_bench.splice(rewritten, section) == rewritten  # replaced, not doubled
    assert serving_bench.section_in("# no serving run yet\n") is None
    assert serving_bench.section_in(section.replace(serving_bench.SECTION_END, "")) is None
