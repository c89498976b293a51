"""The report's PNG: HTTP throughput per row, and kernel time against n.

matplotlib is imported here only, with the Agg backend, so the harness runs headless
and importing :mod:`bench` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .reference import short_n


def draw(results: dict[str, Any], path: Path) -> bool:
    """Write the chart to ``path``; False (and no file) when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    http = [r for r in results.get("http", []) if r["server"] == "main"]
    cases = [c for c in results.get("kernels", {}).get("cases", []) if c["status"] == "ok"]
    panels = [p for p in (_http_panel if http else None, _kernel_panel if cases else None) if p]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5.5), squeeze=False)
    for axis, panel in zip(axes[0], panels, strict=True):
        panel(axis, http if panel is _http_panel else cases)
    mode = results["plan"]["mode"]
    fig.suptitle(
        f"flask-rustpath ({mode} run, {results['machine']['usable_cores']} cores, "
        f"{results['machine']['cpu']})",
        fontsize=11,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _http_panel(axis: Any, rows: list[dict[str, Any]]) -> None:
    """Grouped bars: one group per URL, one bar per concurrency, log scale."""
    paths = list(dict.fromkeys(r["path"] for r in rows))
    concurrencies = sorted({r["concurrency"] for r in rows})
    width = 0.8 / len(concurrencies)
    for i, c in enumerate(concurrencies):
        values = [
            next((r["ok_rps"] or 0 for r in rows if r["path"] == p and r["concurrency"] == c), 0)
            for p in paths
        ]
        positions = [x + (i - (len(concurrencies) - 1) / 2) * width for x in range(len(paths))]
        axis.bar(positions, values, width, label=f"c={c}")
    axis.set_yscale("log")
    axis.set_xticks(range(len(paths)), paths, rotation=35, ha="right", fontsize=7)
    axis.set_ylabel("2xx requests / s (log)")
    axis.set_title("HTTP throughput (gunicorn + hey)")
    axis.legend(fontsize=8)
    axis.grid(axis="y", which="both", alpha=0.3)


def _kernel_panel(axis: Any, cases: list[dict[str, Any]]) -> None:
    """One line per implementation and thread count: median seconds against n, log-log."""
    for column in dict.fromkeys(c["column"] for c in cases):
        points = sorted((c["n"], c["median_s"]) for c in cases if c["column"] == column)
        style = "--" if column.startswith("primesieve") else "-"
        axis.plot(*zip(*points, strict=True), style, marker="o", label=column)
    ns = sorted({c["n"] for c in cases})
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xticks(ns, [short_n(n) for n in ns])
    axis.set_xlabel("n (sum of the primes below n)")
    axis.set_ylabel("median seconds per call (log)")
    axis.set_title("Kernels in-process (primesieve dashed)")
    axis.legend(fontsize=8)
    axis.grid(which="both", alpha=0.3)
