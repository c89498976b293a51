"""The record of shadow mismatches: a capped file of inputs for ``check --from-shadow``.

Shadow mode finds what generated inputs miss: real users' text. Each mismatch it sees
is appended to ``RUSTPATH_SHADOW_RECORD`` as one JSON line, so that ``flask rustpath
check --from-shadow`` can replay the very inputs later, on a developer's machine, after
a fix.

The record is bounded on every axis, because it is written while serving:

- one file per app (its path is the setting), shared by every worker process: each
  line is written with one ``write`` on a descriptor opened with ``O_APPEND``, under
  an exclusive ``flock``, so lines of concurrent workers never interleave and the
  size check and the write are one step;
- at most ``RUSTPATH_SHADOW_RECORD_BYTES`` bytes: a mismatch that would pass it is
  not written (and logged at a bounded rate); delete or move the file to start over;
- at most ``RUSTPATH_SHADOW_RECORD_CHARS`` characters (bytes, items) of each
  argument: a longer one is cut, and the line names it in ``"truncated"``; a line
  over :data:`MAX_LINE_BYTES` keeps the kernel's name and drops its inputs;
- nothing grows in memory but a bounded set of the inputs already written by this
  process, so the same mismatch on every request is written once per worker.

Writing never raises into the shadow runner: a failure is returned as text for its
log.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: appends stay whole lines, the cap may pass by a line
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
# The longest line written; a longer one drops its inputs (kernels take big arguments).
MAX_LINE_BYTES = 64 * 1024
# How many written inputs one process remembers, to write each one once.
REMEMBERED = 1024
# Characters of each side's result kept in a line, for the report.
RESULT_CHARS = 200


class Unencodable(ValueError):
    """An argument has no JSON form (a set, an object)."""


@dataclass(frozen=True)
class Entry:
    """One recorded mismatch."""

    kernel: str
    inputs: dict[str, Any] | None  # None: the line was too long, or not encodable
    truncated: tuple[str, ...] = ()  # the arguments cut to the record's size
    python: str = ""  # each side's result, as repr, cut
    rust: str = ""
    note: str = ""  # why there are no inputs


@dataclass
class MismatchRecord:
    """Appends mismatches to one capped file (see the module docstring)."""

    path: Path
    max_bytes: int
    max_chars: int
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def append(
        self, kernel: str, arguments: Mapping[str, Any], python_result: Any, rust_result: Any
    ) -> str | None:
        """Write one mismatch; ``None`` when written or already written by this process,
        else why it was not."""
        try:
            line = self._line(kernel, arguments, python_result, rust_result)
        except Exception as exc:  # a repr() that raises: the input is not worth a 500
            return f"cannot describe the mismatch: {type(exc).__name__}"
        digest = hashlib.sha256(line.split(b'"python":', 1)[0]).hexdigest()
        if digest in self._seen:
            return None
        try:
            written = _append_capped(self.path, line, self.max_bytes)
        except OSError as exc:
            return f"cannot write {self.path}: {exc.strerror or exc}"
        if not written:
            return f"{self.path} is full ({self.max_bytes} bytes): mismatch not recorded"
        self._seen[digest] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return None

    def _line(
        self, kernel: str, arguments: Mapping[str, Any], python_result: Any, rust_result: Any
    ) -> bytes:
        truncated: list[str] = []
        entry: dict[str, Any] = {"format": FORMAT, "kernel": kernel}
        try:
            inputs = {}
            for name, value in arguments.items():
                encoded, cut = _encode(value, self.max_chars)
                inputs[name] = encoded
                if cut:
                    truncated.append(name)
            entry["inputs"] = inputs
        except Unencodable as exc:
            entry["inputs"] = None
            entry["note"] = f"inputs not recorded: {exc}"
        entry["truncated"] = truncated
        if truncated:
            entry["note"] = (
                f"{', '.join(truncated)} cut to {self.max_chars} characters, items or "
                "bytes (RUSTPATH_SHADOW_RECORD_CHARS)"
            )
        entry["python"] = _short(python_result)
        entry["rust"] = _short(rust_result)
        entry["time"] = round(time.time(), 3)
        entry["pid"] = os.getpid()
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        if len(line) > MAX_LINE_BYTES:
            entry["inputs"], entry["truncated"] = None, []
            entry["note"] = f"inputs not recorded: the line passed {MAX_LINE_BYTES} bytes"
            line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        return line


def _append_capped(path: Path, line: bytes, max_bytes: int) -> bool:
    """Append ``line`` to ``path`` unless it would pass ``max_bytes``; whether written."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        if os.fstat(descriptor).st_size + len(line) > max_bytes:
            return False
        os.write(descriptor, line)  # one write: a whole line, at the end, under the lock
        return True
    finally:
        os.close(descriptor)  # and with it the lock


def _encode(value: Any, max_chars: int) -> tuple[Any, bool]:
    """``value`` in JSON form, cut to ``max_chars``, and whether anything was cut."""
    if value is None or isinstance(value, (bool, int, float)):
        return value, False
    if isinstance(value, str):
        return value[:max_chars], len(value) > max_chars
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value[:max_chars]).decode()}, len(value) > max_chars
    if isinstance(value, (list, tuple)):
        items = [_encode(item, max_chars) for item in value[:max_chars]]
        return [i for i, _ in items], len(value) > max_chars or any(c for _, c in items)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        pairs = [(k, _encode(v, max_chars)) for k, v in list(value.items())[:max_chars]]
        cut = len(value) > max_chars or any(c for _, (_, c) in pairs)
        return {k: v for k, (v, _) in pairs}, cut
    raise Unencodable(f"{type(value).__name__} has no JSON form")


def decode(value: Any) -> Any:
    """An argument as the kernel was given it, from its JSON form (bytes come back)."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        return {k: decode(v) for k, v in value.items()}
    return value


def _short(result: Any) -> str:
    text = repr(result)
    return text if len(text) <= RESULT_CHARS else text[: RESULT_CHARS - 1] + "…"


def read_record(path: Path) -> Iterator[Entry]:
    """The mismatches recorded at ``path``, oldest first, each input once; lines that
    do not parse (a file edited by hand) are skipped."""
    seen: set[str] = set()
    with path.open(encoding="utf-8", errors="replace", newline="\n") as lines:
        for line in lines:
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                raw = json.loads(line)
                inputs = raw.get("inputs")
                key = json.dumps([raw["kernel"], inputs], sort_keys=True)
                if inputs is not None and key in seen:
                    continue
                seen.add(key)
                yield Entry(
                    kernel=str(raw["kernel"]),
                    inputs=None if inputs is None else {k: decode(v) for k, v in inputs.items()},
                    truncated=tuple(raw.get("truncated") or ()),
                    python=str(raw.get("python", "")),
                    rust=str(raw.get("rust", "")),
                    note=str(raw.get("note", "")),
                )
