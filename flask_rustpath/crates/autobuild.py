"""Development: rebuild changed crates on import, restart ``flask run`` when their
sources change.

A crate installed in *editable* mode (``pip install -e``, as ``flask rustpath build``
does) records its directory in the distribution's PEP 610 ``direct_url.json``.
:func:`enable_autobuild` installs maturin's import hook (``maturin_import_hook``), which
rebuilds such a crate whose sources changed when it is next imported, and
:func:`watch_crate_sources` lets werkzeug's stat reloader restart ``flask run
--debug`` when a crate's Rust sources change. Production never compiles: there,
:mod:`~flask_rustpath.crates.freshness` reports a stale build.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..support.extras import missing_message
from .build import check_tools, tool_path
from .layout import CrateError, find_crates, source_files

log = logging.getLogger("flask_rustpath")


MISSING_HOOK = missing_message("maturin_import_hook", "automatic rebuilds")


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
    :func:`flask_rustpath.crates.freshness.freshness`, never compiled while serving.
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


def hook_installed() -> bool:
    """Whether maturin's import hook is installed (the ``dev`` extra), without importing it."""
    return importlib.util.find_spec("maturin_import_hook") is not None


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
    os.environ["PATH"] = tool_path()  # the hook looks maturin up on PATH
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_WATCH_PREFIX = "flask_rustpath.crates.autobuild:watch:"


def watch_crate_sources(crate_dirs: Iterable[Path]) -> list[Path]:
    """Make werkzeug's *stat* reloader restart ``flask run --debug`` on crate changes.

    The stat reloader stats every ``sys.modules[...].__file__`` on each pass (in the
    reloader's child process, where the app is loaded). Each source file is entered
    there as an empty placeholder module named ``flask_rustpath.crates.autobuild:watch:<path>``
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
            from flask_rustpath.crates.autobuild import reloader_extra_files as f;
            print(os.pathsep.join(f()))')"

    or ``app.run(debug=True, extra_files=reloader_extra_files())``.
    """
    if crate_dirs is None:
        crate_dirs = [crate.path for crate in find_crates()]
    return [str(path.resolve()) for d in crate_dirs for path in source_files(Path(d))]
