"""The optional dependencies, and the one line that names the extra to install.

Each tool that needs an optional package checks for it before it starts, so a missing
one is a sentence naming the ``pip install 'flask-rustpath[extra]'`` to run, not an
``ImportError`` at the bottom of a traceback. The extras are declared in
``pyproject.toml`` and listed in the install table of docs/quickstart.md (a test keeps the three in
step).
"""

from __future__ import annotations

import importlib.util

# Importable module -> (its distribution's name, the smallest extra that brings it).
EXTRAS: dict[str, tuple[str, str]] = {
    "gunicorn": ("gunicorn", "serve"),
    "granian": ("granian", "granian"),
    "prometheus_client": ("prometheus-client", "metrics"),
    "hypothesis": ("hypothesis", "testing"),
    "maturin": ("maturin", "dev"),
    "maturin_import_hook": ("maturin-import-hook", "dev"),
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def missing_message(module: str, needed_by: str) -> str:
    """``"<needed_by> needs <dist>: pip install 'flask-rustpath[<extra>]'"``."""
    distribution, extra = EXTRAS[module]
    return f"{needed_by} needs {distribution}: pip install 'flask-rustpath[{extra}]'"


def require(module: str, needed_by: str) -> None:
    """Raise :class:`MissingExtra` if ``module`` (a key of :data:`EXTRAS`) is not
    installed; ``needed_by`` names what needs it (``"flask rustpath serve"``)."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(missing_message(module, needed_by), name=module)
