"""Is an installed crate's build older than its sources? Asked without importing or
compiling anything, so production can *report* a stale build.

The crate is found through the PEP 610 ``direct_url.json`` that an editable install
(``pip install -e``, ``maturin develop``) records.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .layout import is_crate_dir, source_files


@dataclass(frozen=True)
class Freshness:
    """Whether module ``name``'s installed build matches its crate's sources.

    ``built``: an installed compiled library was found. ``fresh``: True or False when
    the sources could be compared with it, None when they could not (not an editable
    install, or its crate directory is gone). ``detail`` says why, in words.
    """

    name: str
    built: bool
    fresh: bool | None
    crate_dir: Path | None
    detail: str
    library: Path | None = None


def crate_dir_of(module_name: str) -> tuple[Path | None, bool]:
    """The source directory an installed module was built from, and whether editable.

    Read from the distribution's PEP 610 ``direct_url.json`` (written by ``pip
    install -e`` and ``maturin develop``); ``(None, False)`` when there is none.
    """
    dist = _distribution_of(module_name)
    if dist is None:
        return None, False
    raw = dist.read_text("direct_url.json")
    if not raw:
        return None, False
    try:
        record = json.loads(raw)
    except ValueError:
        return None, False
    editable = bool(record.get("dir_info", {}).get("editable", False))
    url = record.get("url", "")
    if not url.startswith("file:"):
        return None, editable
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    return path, editable


def freshness(module_name: str) -> Freshness:
    """Is the installed build of ``module_name`` older than its crate's sources?

    Finds the module without importing it (and without the import hook, so asking
    never compiles), locates the crate through ``direct_url.json`` and compares the
    newest mtime of ``src/**/*.rs``, ``Cargo.toml`` and ``Cargo.lock`` with the
    compiled library's. Cheap enough for start-up and ``flask rustpath routes``.
    """
    top = module_name.partition(".")[0]
    spec = _find_spec_without_importing(module_name)
    if spec is None or spec.origin is None:
        return Freshness(module_name, False, None, None, "not installed")
    library = _compiled_library(Path(spec.origin), module_name.rpartition(".")[2])
    crate_dir, editable = crate_dir_of(top)
    if library is None:
        return Freshness(
            module_name, False, None, crate_dir, f"no compiled library beside {spec.origin}"
        )
    if crate_dir is None:
        return Freshness(
            module_name, True, None, None, "not installed from a local crate", library
        )
    if not is_crate_dir(crate_dir):
        return Freshness(
            module_name, True, None, crate_dir, f"crate directory {crate_dir} is gone", library
        )
    sources = [p for p in source_files(crate_dir) if p.name != "pyproject.toml"]
    if not sources:
        return Freshness(module_name, True, None, crate_dir, "crate has no sources", library)
    newest = max(sources, key=lambda p: p.stat().st_mtime)
    built_at = library.stat().st_mtime
    if newest.stat().st_mtime > built_at:
        how = "flask rustpath build" if editable else "reinstall it"
        detail = f"{newest.relative_to(crate_dir)} changed after the last build; run {how}"
        return Freshness(module_name, True, False, crate_dir, detail, library)
    return Freshness(module_name, True, True, crate_dir, "up to date", library)


def _find_spec_without_importing(module_name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of ``module_name``, found on sys.path without importing anything.

    Not importlib.util.find_spec: it imports parent packages, and it consults
    sys.meta_path, where the autobuild hook would rebuild the crate to answer.
    """
    spec = None
    path: list[str] | None = None
    parts = module_name.split(".")
    for index in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: index + 1]), path)
        if spec is None:
            return None
        if index < len(parts) - 1:
            if spec.submodule_search_locations is None:
                return None
            path = list(spec.submodule_search_locations)
    return spec


def _compiled_library(origin: Path, module: str) -> Path | None:
    """The extension file of ``module``: ``origin`` itself, or one inside its package."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    if origin.name.endswith(suffixes):
        return origin
    if origin.name == "__init__.py":
        for suffix in suffixes:
            candidate = origin.parent / f"{module}{suffix}"
            if candidate.is_file():
                return candidate
        found = sorted(p for p in origin.parent.iterdir() if p.name.endswith(suffixes))
        return found[0] if found else None
    return None


def _distribution_of(module_name: str) -> metadata.Distribution | None:
    """The installed distribution that provides top-level module ``module_name``."""
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.distribution(module_name)
    for dist_name in metadata.packages_distributions().get(module_name, []):
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.distribution(dist_name)
    return None
