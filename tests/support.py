"""Helpers for the project's own tests (not shipped with the package)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Values of ``CI`` that mean "this is a CI run", compared case-insensitively.
TRUTHY = frozenset({"1", "true", "yes", "on"})


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to a truthy value.

    ``.ci/run`` sets ``CI=true``; most CI services set ``CI=true`` or ``CI=1``.
    """
    return os.environ.get("CI", "").strip().lower() in TRUTHY


def missing(reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """A test cannot run for want of ``reason``: skip it, except in CI, where it fails.

    CI installs every tool the tests need, so a skip there would hide a broken setup.
    """
    if in_ci():
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason, allow_module_level=allow_module_level)


def run_python(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python3 *args`` in a fresh interpreter on this checkout (its source tree
    first on the path, as a server started from the repository root sees it)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def csrf_token(html: bytes) -> str:
    """The hidden Flask-WTF token of a page's form, to post it back as a browser does."""
    found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found is not None, html[:300]
    return found.group(1).decode()
