"""Your own Rust crates: scaffold, build, rebuild in development, report staleness.

A crate lives in the app's project, by default under ``rust/NAME/``, and is a
maturin/PyO3 project whose Python module is ``NAME``. It is installed into the
running environment in *editable* mode (``pip install -e``), which records the crate's
directory in the distribution's PEP 610 ``direct_url.json``. Everything else follows
from that record:

- :func:`enable_autobuild` installs maturin's import hook (``maturin_import_hook``),
  which rebuilds an editable crate whose sources changed when it is next imported;
- :func:`freshness` compares the crate's sources with the installed library, without
  importing or compiling anything, so production can *report* a stale build;
- :func:`watch_crate_sources` lets werkzeug's stat reloader restart ``flask run
  --debug`` when a crate's Rust sources change.

This module has no click in it; ``crate_commands`` is the command-line face.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import json
import keyword
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import types
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from string import Template
from typing import Any

log = logging.getLogger("flask_rustpath")

#: Where ``flask rustpath new`` puts crates and ``build`` looks for them, relative to
#: the current directory.
DEFAULT_ROOT = Path("rust")

#: The PyO3 requirement written into scaffolded crates: the same minor series as
#: flask-rustpath's own native module, so one toolchain setup serves both.
PYO3_VERSION = "0.30"

SCAFFOLD_DIR = Path(__file__).with_name("scaffold")

# Scaffold template -> path inside the new crate. ``$name`` is substituted in both.
SCAFFOLD_FILES = {
    "Cargo.toml.tmpl": "Cargo.toml",
    "pyproject.toml.tmpl": "pyproject.toml",
    "lib.rs.tmpl": "src/lib.rs",
    "module.pyi.tmpl": "$name.pyi",
    "test_parity.py.tmpl": "tests/test_${name}_parity.py",
    "gitignore.tmpl": ".gitignore",
}

MISSING_CARGO = (
    "cargo not found: install a Rust toolchain with rustup (then open a new shell "
    "or add ~/.cargo/bin to PATH)"
)
MISSING_MATURIN = "maturin not found: install it with `python -m pip install maturin`"
MISSING_HOOK = (
    "automatic rebuilds need maturin's import hook: `python -m pip install maturin-import-hook`"
)

# Names that cannot be a Rust crate or function name: strict and reserved keywords,
# plus crates every scaffold depends on (a crate may not share a dependency's name).
# fmt: off
_RUST_RESERVED = frozenset((
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
    "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    "core", "std", "alloc", "proc_macro", "test", "pyo3", "rayon",
))
# fmt: on
_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")


class CrateError(Exception):
    """A crate operation failed; the message is one line, fit to show as it is."""


@dataclass(frozen=True)
class Crate:
    """A maturin crate in the project: its module ``name`` and its directory."""

    name: str
    path: Path


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


# --- scaffolding -------------------------------------------------------------------


def check_name(name: str) -> None:
    """Refuse a crate name that cannot be a Python module *and* a Rust crate.

    Lower-case ASCII only: Rust crate names are ASCII, and an upper-case module name
    makes rustc warn (non_snake_case), which fails ``clippy -D warnings``.
    """
    if not name.isidentifier():
        raise CrateError(f"{name!r} is not a valid Python identifier")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise CrateError(f"{name!r} is a Python keyword")
    if not _NAME_PATTERN.fullmatch(name):
        raise CrateError(
            f"{name!r}: use lower-case ASCII letters, digits and underscores "
            "(it names both a Python module and a Rust crate)"
        )
    if name in _RUST_RESERVED:
        raise CrateError(f"{name!r} is reserved in Rust or names a dependency")
    if name in sys.stdlib_module_names:
        raise CrateError(f"{name!r} would shadow the standard library module of that name")


def scaffold(name: str, directory: Path | None = None) -> list[Path]:
    """Write a new crate for module ``name`` into ``directory`` (default ``rust/NAME``).

    Refuses an existing directory rather than merging into it: half-overwritten
    Cargo and pyproject files are worse than an error. Returns the files written.
    """
    check_name(name)
    target = Path(directory) if directory is not None else DEFAULT_ROOT / name
    if target.exists():
        raise CrateError(f"{target} already exists; choose another --dir or remove it")
    values = {"name": name, "pyo3_version": PYO3_VERSION}
    written = []
    for template_name, relative in SCAFFOLD_FILES.items():
        text = Template((SCAFFOLD_DIR / template_name).read_text(encoding="utf-8"))
        path = target / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.substitute(values), encoding="utf-8")
        written.append(path)
    return written


# --- finding and building ----------------------------------------------------------


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
        return [Crate(_module_name(p), p) for p in found]
    crates = []
    for name in names:
        candidate = Path(name)
        path = candidate if is_crate_dir(candidate) else root / name
        if not is_crate_dir(path):
            raise CrateError(f"no crate {name!r}: {path} has no Cargo.toml and pyproject.toml")
        crates.append(Crate(_module_name(path), path))
    return crates


def check_tools() -> None:
    """Raise :class:`CrateError` with one how-to line if cargo or maturin is missing.

    Checked up front: otherwise maturin's build backend would try to download a Rust
    toolchain, or pip would bury the cause under a page of traceback.
    """
    if shutil.which("cargo") is None:
        raise CrateError(MISSING_CARGO)
    if shutil.which("maturin", path=_tool_path()) is None:
        raise CrateError(MISSING_MATURIN)
    if importlib.util.find_spec("maturin") is None:  # the build backend pip will call
        raise CrateError(MISSING_MATURIN)


def _interpreter_scripts() -> str:
    """Where this interpreter's console scripts live (a virtualenv's ``bin``)."""
    return str(Path(sys.executable).parent)


def _tool_path() -> str:
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
        "PATH": _tool_path(),
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


def _module_name(crate_dir: Path) -> str:
    """The module a crate builds: ``[tool.maturin] module-name``, else ``[lib] name``."""
    pyproject, cargo = (
        _read_toml(crate_dir / "pyproject.toml"),
        _read_toml(crate_dir / "Cargo.toml"),
    )
    name = pyproject.get("tool", {}).get("maturin", {}).get("module-name")
    name = name or cargo.get("lib", {}).get("name") or cargo.get("package", {}).get("name")
    return str(name or crate_dir.name).replace("-", "_")


def _read_toml(path: Path) -> dict[str, Any]:
    """``path`` parsed, or ``{}`` when unreadable (or on Python 3.10, which lacks tomllib)."""
    if sys.version_info < (3, 11):  # callers fall back to conventions
        return {}
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


# --- development: rebuild on import, restart on change -----------------------------

_autobuild_lock = threading.Lock()
_autobuild_importer: Any = None


def enable_autobuild(release: bool = True) -> bool:
    """Rebuild editable crates whose sources changed when they are imported, once set up.

    Installs maturin's import hook (``maturin_import_hook``) once per process; later
    calls return at once. Release by default, the profile ``flask rustpath build`` uses,
    so the hook reuses its compiled dependencies. Returns False (after one warning) if
    the hook or maturin is missing, so a development server still starts.

    The hook runs ``maturin develop``, which insists on a virtualenv; outside one the
    hook is pointed at this interpreter's own prefix while it looks (see
    :func:`_maturin_sees_an_environment`). Building happens on import, so only
    switch this on in development: in production a stale crate is reported by
    :func:`freshness`, never compiled while serving.
    """
    global _autobuild_importer
    with _autobuild_lock:
        if _autobuild_importer is not None:
            return True
        try:
            from maturin_import_hook.project_importer import MaturinProjectImporter
            from maturin_import_hook.settings import MaturinSettings
        except ImportError:
            log.warning("%s; crates are not rebuilt automatically.", MISSING_HOOK)
            return False
        try:
            check_tools()
        except CrateError as err:
            log.warning("%s; crates are not rebuilt automatically.", err)
            return False

        class Importer(MaturinProjectImporter):
            """maturin's project importer, with an environment ``maturin develop`` accepts."""

            def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
                if path is not None:  # submodules are found through their package
                    return None
                with _maturin_sees_an_environment():
                    return super().find_spec(fullname, path, target)

        importer = Importer(
            settings=MaturinSettings(release=release, color=False),
            show_warnings=True,
        )
        sys.meta_path.insert(0, importer)
        _autobuild_importer = importer
        return True


def disable_autobuild() -> None:
    """Remove the hook :func:`enable_autobuild` installed (for tests and shells)."""
    global _autobuild_importer
    with _autobuild_lock:
        if _autobuild_importer is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(_autobuild_importer)
            _autobuild_importer = None


@contextlib.contextmanager
def _maturin_sees_an_environment() -> Iterator[None]:
    """Let ``maturin develop`` install into this interpreter when no virtualenv is active.

    maturin finds its target through ``VIRTUAL_ENV`` or ``CONDA_PREFIX`` and refuses
    to run without one. Outside a virtualenv, ``sys.prefix`` *is* the environment this
    process imports from, so naming it is truthful. This interpreter's scripts
    directory is put on PATH too, where the hook looks for maturin. Both only for the
    duration of the hook's lookup (imports are serialised by the import lock, but
    other threads see the variables meanwhile), restored afterwards.
    """
    saved = {key: os.environ.get(key) for key in ("VIRTUAL_ENV", "PATH")}
    if not (os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX")):
        os.environ["VIRTUAL_ENV"] = sys.prefix
    os.environ["PATH"] = _tool_path()  # the hook looks maturin up on PATH
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def source_files(crate_dir: Path) -> list[Path]:
    """Files whose change means the crate must be rebuilt: Rust sources and manifests.

    Rust sources are the ``*.rs`` files under the directory of the crate's library
    root: ``src/`` by convention, or wherever ``[lib] path`` in Cargo.toml points
    (flask-rustpath's own crate keeps its sources in ``rust_src/``).
    """
    crate_dir = Path(crate_dir)
    lib_path = _read_toml(crate_dir / "Cargo.toml").get("lib", {}).get("path")
    source_root = (crate_dir / lib_path).parent if lib_path else crate_dir / "src"
    files = sorted(source_root.rglob("*.rs"))
    for name in ("Cargo.toml", "Cargo.lock", "build.rs", "pyproject.toml"):
        if (crate_dir / name).is_file():
            files.append(crate_dir / name)
    return files


_WATCH_PREFIX = "flask_rustpath.crates:watch:"


def watch_crate_sources(crate_dirs: Iterable[Path]) -> list[Path]:
    """Make werkzeug's *stat* reloader restart ``flask run --debug`` on crate changes.

    The stat reloader stats every ``sys.modules[...].__file__`` on each pass (in the
    reloader's child process, where the app is loaded). Each source file is entered
    there as an empty placeholder module named ``flask_rustpath.crates:watch:<path>``
    (a name no import statement can produce), so a saved ``.rs`` file restarts the
    server; the restarted app imports the crate again, and the import hook
    (:func:`enable_autobuild`) rebuilds it. Files created after start-up are watched
    from the next restart on (adding a module means editing ``lib.rs``, which restarts).

    The watchdog reloader (used when the ``watchdog`` package is installed) only
    reacts to ``*.py`` files and to files given to ``flask run --extra-files``; for it
    pass :func:`reloader_extra_files` there (see that function). Returns the files
    now watched.
    """
    watched = []
    for crate_dir in crate_dirs:
        for path in source_files(Path(crate_dir)):
            resolved = str(path.resolve())
            name = _WATCH_PREFIX + resolved
            if name not in sys.modules:
                placeholder = types.ModuleType(name, "watched by werkzeug's stat reloader")
                placeholder.__file__ = resolved
                sys.modules[name] = placeholder
            watched.append(path)
    return watched


def unwatch_crate_sources() -> None:
    """Remove every placeholder :func:`watch_crate_sources` added."""
    for name in [n for n in sys.modules if n.startswith(_WATCH_PREFIX)]:
        del sys.modules[name]


def reloader_extra_files(crate_dirs: Iterable[Path] | None = None) -> list[str]:
    """Source files of ``crate_dirs`` (default: every crate under ``rust/``) as strings.

    For the watchdog reloader, which watches only the files it was given when
    ``flask run`` started::

        flask run --debug --extra-files "$(python -c 'import os;
            from flask_rustpath.crates import reloader_extra_files as f;
            print(os.pathsep.join(f()))')"

    or ``app.run(debug=True, extra_files=reloader_extra_files())``.
    """
    if crate_dirs is None:
        crate_dirs = [crate.path for crate in find_crates()]
    return [str(path.resolve()) for d in crate_dirs for path in source_files(Path(d))]


# --- freshness ---------------------------------------------------------------------


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
