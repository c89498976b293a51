"""Your own Rust crates on disk: where they live, what they build, which files they have.

A crate lives in the app's project, by default under ``rust/NAME/``, and is a
maturin/PyO3 project whose Python module is ``NAME``. The other modules of
:mod:`flask_rustpath.crates` do one job each with crates:
:mod:`~flask_rustpath.crates.scaffold` writes a new one,
:mod:`~flask_rustpath.crates.build` compiles and installs it,
:mod:`~flask_rustpath.crates.autobuild` rebuilds it in development and
:mod:`~flask_rustpath.crates.freshness` reports a stale build.
:mod:`~flask_rustpath.crates.commands` is their command-line face.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where ``flask rustpath new`` puts crates and ``build`` looks for them, relative to
#: the current directory.
DEFAULT_ROOT = Path("rust")


class CrateError(Exception):
    """A crate operation failed; the message is one line, fit to show as it is."""


@dataclass(frozen=True)
class Crate:
    """A maturin crate in the project: its module ``name`` and its directory."""

    name: str
    path: Path


def is_crate_dir(path: Path) -> bool:
    """A maturin crate directory: both ``Cargo.toml`` and ``pyproject.toml``."""
    return (path / "Cargo.toml").is_file() and (path / "pyproject.toml").is_file()


def find_crates(names: Sequence[str] = (), root: Path = DEFAULT_ROOT) -> list[Crate]:
    """The crates under ``root/*/``, or exactly those in ``names`` (module names or paths).

    A name that is not a crate directory is an error, not silently skipped: a typo
    must not look like a successful build of nothing.
    """
    if not names:
        found = sorted(p for p in root.glob("*") if p.is_dir() and is_crate_dir(p))
        return [Crate(module_name(p), p) for p in found]
    crates = []
    for name in names:
        candidate = Path(name)
        path = candidate if is_crate_dir(candidate) else root / name
        if not is_crate_dir(path):
            raise CrateError(f"no crate {name!r}: {path} has no Cargo.toml and pyproject.toml")
        crates.append(Crate(module_name(path), path))
    return crates


def module_name(crate_dir: Path) -> str:
    """The module a crate builds: ``[tool.maturin] module-name``, else ``[lib] name``."""
    pyproject, cargo = (
        read_toml(crate_dir / "pyproject.toml"),
        read_toml(crate_dir / "Cargo.toml"),
    )
    name = pyproject.get("tool", {}).get("maturin", {}).get("module-name")
    name = name or cargo.get("lib", {}).get("name") or cargo.get("package", {}).get("name")
    return str(name or crate_dir.name).replace("-", "_")


def source_files(crate_dir: Path) -> list[Path]:
    """Files whose change means the crate must be rebuilt: Rust sources and manifests.

    Rust sources are the ``*.rs`` files under the directory of the crate's library
    root: ``src/`` by convention, or wherever ``[lib] path`` in Cargo.toml points
    (flask-rustpath's own crate keeps its sources in ``rust_src/``). The crates it
    depends on by path count too: the kernel crate ``rustpath`` (which a scaffolded
    crate reaches through ``.flask-rustpath``, so an upgrade of flask-rustpath makes
    it stale) and its macros.
    """
    files: list[Path] = []
    _add_sources(Path(crate_dir), files, set())
    return files


def _add_sources(crate_dir: Path, files: list[Path], seen: set[Path]) -> None:
    key = crate_dir.resolve()
    if key in seen:
        return
    seen.add(key)
    cargo = read_toml(crate_dir / "Cargo.toml")
    lib_path = cargo.get("lib", {}).get("path")
    source_root = (crate_dir / lib_path).parent if lib_path else crate_dir / "src"
    files.extend(sorted(source_root.rglob("*.rs")))
    for name in ("Cargo.toml", "Cargo.lock", "build.rs", "pyproject.toml"):
        if (crate_dir / name).is_file():
            files.append(crate_dir / name)
    for spec in cargo.get("dependencies", {}).values():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            dependency = crate_dir / spec["path"]
            if (dependency / "Cargo.toml").is_file():
                _add_sources(dependency, files, seen)


def read_toml(path: Path) -> dict[str, Any]:
    """``path`` parsed, or ``{}`` when unreadable (or on Python 3.10, which lacks tomllib)."""
    if sys.version_info < (3, 11):  # callers fall back to conventions
        return {}
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
