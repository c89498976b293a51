"""flask-rustpath: offload the hot parts of Flask views to Rust, beside the Python they replace."""

from importlib.metadata import PackageNotFoundError, version

from .core.kernel import Kernel
from .core.record import current_side
from .extension import RustPath
from .hot import HotRoute
from .pairing import paired
from .urls import url_for

try:
    __version__ = version("flask-rustpath")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "HotRoute",
    "Kernel",
    "RustPath",
    "__version__",
    "current_side",
    "paired",
    "url_for",
]
