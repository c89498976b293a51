"""The two sides of a kernel, and the backends that choose between them.

A *side* is one implementation of a kernel: ``python`` (the reference) or ``rust``
(its twin). A *backend* is what serves a kernel's calls when no URL pins a side: one
of the sides, or ``shadow`` (Rust answers; Python runs on a sample of calls, off the
request path, and the results are compared).
"""

from __future__ import annotations

from typing import Literal

Side = Literal["python", "rust"]
SIDES: tuple[Side, ...] = ("python", "rust")
# What serves a kernel when no side is pinned: a side, or "shadow" (Rust answers,
# Python is run on a sample of calls off the request path and compared).
Backend = Literal["python", "rust", "shadow"]
BACKENDS: tuple[Backend, ...] = ("rust", "python", "shadow")
