"""``flask rustpath build``'s work: compile a crate and install it, editable, into this
Python environment with pip and maturin.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..support.extras import missing_message
from .layout import Crate, CrateError

MISSING_CARGO = (
    "cargo not found: install a Rust toolchain with rustup (then open a new shell "
    "or add ~/.cargo/bin to PATH)"
)


MISSING_MATURIN = missing_message("maturin", "building crates")


@dataclass(frozen=True)
class BuildResult:
    """How one ``build_crate`` went: exit ``code`` (0 is success), duration, output."""

    crate: Crate
    code: int
    seconds: float
    output: list[str] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.code == 0

    def first_error(self) -> str | None:
        """rustc's first error and its location, e.g. ``error[E0308]: ... (src/lib.rs:9:5)``.

        The build output is long (pip, cargo, rustc); this is the line a person needs
        first, repeated at the end so it is not scrolled away.
        """
        for index, line in enumerate(self.output):
            if re.match(r"\s*error(\[E\d+\])?: ", line) and "subprocess-exited" not in line:
                message = line.strip()
                for follow in self.output[index + 1 : index + 4]:
                    location = re.match(r"\s*--> (.+)", follow)
                    if location:
                        return f"{message} ({location.group(1).strip()})"
                return message
        return None


def check_tools() -> None:
    """Raise :class:`CrateError` with one how-to line if cargo or maturin is missing.

    Checked up front: otherwise maturin's build backend would try to download a Rust
    toolchain, or pip would bury the cause under a page of traceback.
    """
    if shutil.which("cargo") is None:
        raise CrateError(MISSING_CARGO)
    if shutil.which("maturin", path=tool_path()) is None:
        raise CrateError(MISSING_MATURIN)
    if importlib.util.find_spec("maturin") is None:  # the build backend pip will call
        raise CrateError(MISSING_MATURIN)


def _interpreter_scripts() -> str:
    """Where this interpreter's console scripts live (a virtualenv's ``bin``)."""
    return str(Path(sys.executable).parent)


def tool_path() -> str:
    """PATH, then this interpreter's scripts directory.

    A virtualenv's Python can run without the virtualenv being activated (e.g.
    ``.venv/bin/flask``); its ``maturin`` script is then not on PATH but is still
    the right one to use.
    """
    return os.pathsep.join(p for p in (os.environ.get("PATH", ""), _interpreter_scripts()) if p)


def build_command(crate: Crate, *, release: bool = True) -> tuple[list[str], dict[str, str]]:
    """The pip command (and environment) that builds ``crate`` and installs it editable.

    pip rather than ``maturin develop``: the latter refuses to run outside a
    virtualenv, and pip installs into whatever environment runs this Python. No build
    isolation: the maturin already installed here is used, nothing is fetched.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--verbose",
        "--no-deps",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "--editable",
        str(crate.path.resolve()),
    ]
    if not release:
        # maturin's PEP 517 backend builds with the release profile unless told.
        command.append("--config-settings=build-args=--profile=dev")
    env = {
        **os.environ,
        # Never let maturin's backend download a toolchain behind the user's back.
        "MATURIN_NO_INSTALL_RUST": "1",
        "PIP_NO_INPUT": "1",
        "PATH": tool_path(),
    }
    return command, env


def build_crate(
    crate: Crate, *, release: bool = True, on_line: Callable[[str], None] | None = None
) -> BuildResult:
    """Build ``crate`` and install it editable, passing each output line to ``on_line``."""
    command, env = build_command(crate, release=release)
    started = time.perf_counter()
    output: list[str] = []
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        errors="replace",
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            output.append(line)
            if on_line is not None:
                on_line(line)
        code = process.wait()
    importlib.invalidate_caches()  # the new module must be importable in this process
    return BuildResult(crate, code, time.perf_counter() - started, output)
