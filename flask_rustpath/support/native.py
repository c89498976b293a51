"""The compiled native module, for the code that calls it directly: the front, and the
per-request path (the pairing middleware's base, each request's call record and a
kernel's call; see ``rust_src/request_path.rs``).

``_native`` has no Python source, so an import graph reads an import of it as an
import of the package itself (and so of everything the package imports). Its only
import is here, in a module that does nothing else, so that the one exception
``lint-imports`` makes for it cannot hide a real import.

Without the native module (not built, or no wheel for the platform) the request path
is its Python reference, :mod:`flask_rustpath.support.request_path`, and every kernel
falls back to its Python side; only the front needs the native module itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask_rustpath._native import (
        CallRecord,
        KernelCall,
        SidePaths,
        configure_request_path,
        serve_front,
    )

    NATIVE_REQUEST_PATH: bool
else:
    try:
        from flask_rustpath._native import (
            CallRecord,
            KernelCall,
            SidePaths,
            configure_request_path,
            serve_front,
        )

        NATIVE_REQUEST_PATH = True
    except ImportError:
        from .request_path import CallRecord, KernelCall, SidePaths, configure_request_path

        NATIVE_REQUEST_PATH = False

        def serve_front(*args, **kwargs):
            from flask_rustpath._native import serve_front as native_serve_front

            return native_serve_front(*args, **kwargs)


__all__ = [
    "NATIVE_REQUEST_PATH",
    "CallRecord",
    "KernelCall",
    "SidePaths",
    "configure_request_path",
    "serve_front",
]
