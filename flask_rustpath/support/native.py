"""The compiled native module, for the code that calls it directly: the front.

``_native`` has no Python source, so an import graph reads an import of it as an
import of the package itself (and so of everything the package imports). Its only
import is here, in a module that does nothing else, so that the one exception
``lint-imports`` makes for it cannot hide a real import.
"""

from __future__ import annotations

from flask_rustpath._native import serve_front

__all__ = ["serve_front"]
