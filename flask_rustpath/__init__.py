"""flask-rustpath: serve hot Flask endpoints from Rust, beside the Python they replace."""

from importlib.metadata import PackageNotFoundError, version

from .extension import RustPath
from .hot import HotRoute, HotRoutes

try:
    __version__ = version("flask-rustpath")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["HotRoute", "HotRoutes", "RustPath", "__version__"]
