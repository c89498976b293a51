"""The primesieve anchor: compile bench/primesieve_sum.cpp and run it.

primesieve is the reference point for "is our sieve fast?", so it runs as native code
with its own timer (process start-up and our Python are not in its numbers).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "primesieve_sum.cpp"
COMPILER = "g++"
FLAGS = ["-O3", "-std=c++17", "-pthread"]
LIBS = ["-lprimesieve"]


class PrimesieveError(RuntimeError):
    """The anchor could not be built or run."""


def unavailable_reason() -> str | None:
    """Why the anchor cannot be built here, or None if it can (this compiles a probe)."""
    if shutil.which(COMPILER) is None:
        return f"{COMPILER} not found (apt-get install -y g++)"
    probe = (
        "#include <primesieve.hpp>\n"
        "int main() { return primesieve::primesieve_version().empty(); }\n"
    )
    with tempfile.TemporaryDirectory(prefix="primesieve-probe-") as tmp:
        source = Path(tmp) / "probe.cpp"
        source.write_text(probe)
        done = subprocess.run(
            [COMPILER, *FLAGS, str(source), "-o", str(Path(tmp) / "probe"), *LIBS],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        return (
            "cannot compile and link against libprimesieve "
            f"(apt-get install -y libprimesieve-dev): {done.stderr.strip()[-500:]}"
        )
    return None


def build(dest_dir: Path) -> Path:
    """Compile the anchor into ``dest_dir``; returns the binary."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    binary = dest_dir / "primesieve_sum"
    command = [COMPILER, *FLAGS, str(SOURCE), "-o", str(binary), *LIBS]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise PrimesieveError(f"compiling {SOURCE.name} failed:\n{done.stderr.strip()[-2000:]}")
    return binary


def run(binary: Path, n: int, *, threads: int, repeats: int, timeout_s: float) -> dict[str, Any]:
    """Sum of the primes below ``n`` on ``threads`` threads: its sum and timed repeats."""
    try:
        done = subprocess.run(
            [str(binary), str(n), str(threads), str(repeats)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise PrimesieveError(f"primesieve_sum {n} ran past {timeout_s:g} s") from err
    if done.returncode != 0:
        raise PrimesieveError(f"primesieve_sum exited with {done.returncode}: {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["sum"] = int(result["sum"])
    return result


def version(binary: Path) -> str:
    return str(run(binary, 10, threads=1, repeats=1, timeout_s=30)["primesieve"])
