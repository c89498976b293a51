"""Progress lines on stderr, so a run of several minutes shows where it is.

``[3/14] hey /rust/sum_of_primes/1000000 c=8 …`` when a step starts, and an indented
outcome line when it ends; stdout stays free for whatever a caller pipes.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Numbered steps out of a total known up front."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self._started = time.monotonic()

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def step(self, description: str) -> None:
        """Announce the next step."""
        self.done += 1
        width = len(str(self.total))
        self._write(f"[{self.done:>{width}}/{self.total}] {description} …")

    def outcome(self, text: str) -> None:
        """How the current step ended."""
        self._write(f"{' ' * (2 * len(str(self.total)) + 3)}{text}")

    def note(self, text: str) -> None:
        """Something outside the numbered steps (start, skips, where files went)."""
        elapsed = time.monotonic() - self._started
        self._write(f"[{elapsed:6.1f} s] {text}")
