"""The source of the ``rustpath`` kernel crate (package ``flask-rustpath-kernel``),
shipped in this package, and how a user's crate is pointed at it.

A scaffolded crate depends on ``flask-rustpath-kernel = { path =
".flask-rustpath/kernel", version = "=VERSION" }``: the version pinned to the installed
flask-rustpath's, the path a link (not committed: it names a directory of this
machine) to the copy shipped here, so the crate builds offline, from any directory
(maturin's import hook runs cargo from the app's), always against the installed
flask-rustpath. ``new`` makes the link and ``flask rustpath build`` remakes it before
each build, and refuses a pin that no longer matches the installed version, saying
what to change.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .layout import Crate, CrateError, read_toml

#: The kernel crate's package name on the crates registry (planned; see
#: docs/kernel-crate.md) and in a user crate's ``[dependencies]``.
KERNEL_PACKAGE = "flask-rustpath-kernel"

#: The shipped source of the kernel crate and of its attribute macro beside it.
KERNEL_DIR = Path(__file__).with_name("rust") / "kernel"

#: Made by ``new`` and ``build`` in each crate that depends on the kernel crate: a
#: link to (or, where links are refused, a copy of) the shipped ``rust`` directory.
SOURCE_LINK = ".flask-rustpath"

_VERSION_LINE = re.compile(r'^version = "([^"]+)"$', re.MULTILINE)


def kernel_version() -> str:
    """The shipped kernel crate's version: always the installed flask-rustpath's."""
    match = _VERSION_LINE.search((KERNEL_DIR / "Cargo.toml").read_text(encoding="utf-8"))
    if match is None:  # pragma: no cover - the shipped manifest always has one
        raise CrateError(f"{KERNEL_DIR / 'Cargo.toml'} has no version")
    return match.group(1)


def pinned_version(crate_dir: Path) -> str | None:
    """The kernel crate version ``crate_dir``'s Cargo.toml asks for, without its ``=``.

    ``None`` for a crate that does not depend on the kernel crate (one scaffolded
    before it existed, with the ABI glue written out by hand) or on Python 3.10,
    which cannot read TOML.
    """
    spec = read_toml(Path(crate_dir) / "Cargo.toml").get("dependencies", {}).get(KERNEL_PACKAGE)
    if isinstance(spec, dict):
        spec = spec.get("version")
    if not isinstance(spec, str):
        return None
    return spec.strip().removeprefix("=").strip()


def link_source(crate_dir: Path) -> Path:
    """Make ``crate_dir/.flask-rustpath`` lead to the shipped kernel crate's source."""
    link = Path(crate_dir) / SOURCE_LINK
    shipped = KERNEL_DIR.parent.resolve()
    if link.is_symlink() and link.resolve() == shipped:
        return link
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    try:
        link.symlink_to(shipped, target_is_directory=True)
    except OSError:  # no symlinks (Windows without developer mode): a copy, remade each build
        shutil.copytree(shipped, link, ignore=shutil.ignore_patterns("target", "__pycache__"))
    return link


def point_at_installed(crate: Crate) -> None:
    """Check ``crate``'s pin against the installed kernel crate and write its config.

    Does nothing for a crate that does not depend on the kernel crate.

    Raises :class:`CrateError` naming the fix when the pin differs from the installed
    version (after an upgrade of flask-rustpath, typically).
    """
    pinned = pinned_version(crate.path)
    if pinned is None:
        return
    installed = kernel_version()
    if pinned != installed:
        raise CrateError(
            f"{crate.path / 'Cargo.toml'} pins {KERNEL_PACKAGE} ={pinned}, but the installed "
            f'flask-rustpath ships {installed}: set {KERNEL_PACKAGE} = "={installed}" there '
            "(CHANGES.md says what changed), then run flask rustpath build again"
        )
    link_source(crate.path)
