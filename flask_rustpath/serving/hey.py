"""Run ``hey`` with hard bounds and parse its text summary.

hey's ``Requests/sec`` counts failed requests too (a refused connection is a fast
"request"), so a row's throughput is taken from the status-code distribution instead,
and any error or non-2xx response fails the row.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class HeyError(RuntimeError):
    """hey is missing, timed out, or printed something that is not a summary."""


@dataclass
class HeySummary:
    """The numbers of one hey run, in seconds."""

    total_s: float
    requests_per_sec: float  # as hey prints it: every response and error, over total_s
    average_s: float | None = None
    fastest_s: float | None = None
    slowest_s: float | None = None
    latency_s: dict[str, float] = field(default_factory=dict)  # "50%" → seconds
    status_codes: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def responses(self) -> int:
        return sum(self.status_codes.values())

    @property
    def ok_responses(self) -> int:
        return sum(count for code, count in self.status_codes.items() if 200 <= code < 300)

    @property
    def ok_rps(self) -> float:
        """2xx responses per second: the only throughput this harness reports."""
        return self.ok_responses / self.total_s if self.total_s > 0 else 0.0

    def problems(self) -> list[str]:
        """Why this run cannot count: errors, non-2xx statuses, or nothing answered."""
        found = [
            f"{count} x HTTP {code}"
            for code, count in sorted(self.status_codes.items())
            if not 200 <= code < 300
        ]
        found += [f"{count} x {message}" for message, count in self.errors.items()]
        if self.ok_responses == 0:
            found.append("no successful responses")
        return found

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status_codes"] = {str(code): count for code, count in self.status_codes.items()}
        data["ok_responses"] = self.ok_responses
        data["ok_rps"] = self.ok_rps
        return data


_NUMBER = r"([0-9]+(?:\.[0-9]+)?|NaN)"
_FIELDS = {
    "total_s": re.compile(rf"^\s*Total:\s+{_NUMBER} secs", re.M),
    "requests_per_sec": re.compile(rf"^\s*Requests/sec:\s+{_NUMBER}", re.M),
    "average_s": re.compile(rf"^\s*Average:\s+{_NUMBER} secs", re.M),
    "fastest_s": re.compile(rf"^\s*Fastest:\s+{_NUMBER} secs", re.M),
    "slowest_s": re.compile(rf"^\s*Slowest:\s+{_NUMBER} secs", re.M),
}
_PERCENTILE = re.compile(rf"^\s*([0-9]+)%+ in {_NUMBER} secs", re.M)
_STATUS = re.compile(r"^\s*\[([0-9]{3})\]\s+([0-9]+) responses", re.M)
_ERROR = re.compile(r"^\s*\[([0-9]+)\]\s+(.+?)\s*$", re.M)


def _number(text: str) -> float | None:
    return None if text == "NaN" else float(text)


def _section(text: str, title: str) -> str:
    """The indented lines under ``title:`` up to the next unindented heading."""
    match = re.search(rf"^{re.escape(title)}:\n((?:[ \t].*\n?|\n)*)", text, re.M)
    return match.group(1) if match else ""


def parse(text: str) -> HeySummary:
    """Parse hey's default summary output (hey 0.1.x)."""
    values: dict[str, float | None] = {}
    for name, pattern in _FIELDS.items():
        match = pattern.search(text)
        values[name] = _number(match.group(1)) if match else None
    total, rps = values.pop("total_s"), values.pop("requests_per_sec")
    if total is None or rps is None:
        raise HeyError(f"not a hey summary:\n{text[-2000:]}")
    summary = HeySummary(
        total_s=total,
        requests_per_sec=rps,
        average_s=values["average_s"],
        fastest_s=values["fastest_s"],
        slowest_s=values["slowest_s"],
    )
    for percent, seconds in _PERCENTILE.findall(_section(text, "Latency distribution")):
        # hey prints "0% in 0.0000 secs" for percentiles it had too few samples for.
        if percent != "0" and seconds != "NaN":
            summary.latency_s[f"{percent}%"] = float(seconds)
    for code, count in _STATUS.findall(_section(text, "Status code distribution")):
        summary.status_codes[int(code)] = summary.status_codes.get(int(code), 0) + int(count)
    for count, message in _ERROR.findall(_section(text, "Error distribution")):
        summary.errors[message] = summary.errors.get(message, 0) + int(count)
    return summary


def hey_path() -> str | None:
    return shutil.which("hey")


def run(
    url: str,
    *,
    concurrency: int,
    duration_s: float,
    request_timeout_s: int = 30,
    headers: Sequence[str] = (),
) -> HeySummary:
    """``hey -z DURATION -c C -t TIMEOUT -disable-redirects [-H LINE]... URL``, killed if
    it overruns its own bounds.

    ``-z`` bounds the run in time (requests in flight when it ends are completed and
    counted), ``-t`` bounds every request, and the subprocess timeout bounds hey itself.
    ``headers`` are ``Name: value`` lines (a session's ``Cookie``, an ``Authorization``).
    A redirect is counted as its 3xx, never followed: following it would measure the
    page it leads to (a login page) under the URL's name.
    """
    if not url.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:")):
        raise HeyError(f"refusing to load a non-loopback URL: {url}")
    binary = hey_path()
    if binary is None:
        raise HeyError("hey is not installed (Debian/Ubuntu: apt-get install -y hey)")
    command = [
        binary,
        "-z",
        f"{duration_s:g}s",
        "-c",
        str(concurrency),
        "-t",
        str(request_timeout_s),
        "-disable-redirects",
        *(part for line in headers for part in ("-H", line)),
        url,
    ]
    limit = duration_s + request_timeout_s + 30
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired as err:
        raise HeyError(f"hey ran past its {limit:g} s bound on {url}") from err
    if done.returncode != 0:
        raise HeyError(f"hey exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return parse(done.stdout)
