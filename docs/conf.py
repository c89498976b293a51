"""Sphinx configuration: ``python -m sphinx -W -b html docs OUT`` (CI runs exactly this)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))  # rustpath_docs: settings and the benchmark report
sys.path.insert(0, str(DOCS.parent))  # bench: the report is rendered from its JSON

from flask_rustpath import __version__  # noqa: E402

project = "flask-rustpath"
copyright = "the flask-rustpath authors"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings' "Args:" sections
    "sphinx_click",
    "rustpath_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]

# Links to a heading in another Markdown page ("limits.md#errors") resolve like Sphinx refs.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# RustPath.kernel's docstring lists its keyword-only options like its arguments.
napoleon_custom_sections = [("Options (keyword-only)", "params_style")]

# Pages the index lists that are written apart from this site and may not be there yet:
# their toctree line is left out while the page is missing (rustpath_docs).
rustpath_optional_pages = ["kernel-walkthrough", "scaling"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}
# Every cross-reference must resolve: a docstring's :func:`name` that names nothing fails
# the build under -W instead of rendering as plain text.
nitpicky = True
nitpick_ignore_regex = [
    # Types of other libraries: no inventory of theirs is fetched (the build is offline).
    ("py:class", r"(flask|werkzeug|click|collections|typing|hypothesis|_pytest|pytest)\..*"),
    ("py:class", r"(Flask|Blueprint|Response|Callable|Mapping|Iterator|Any|ParamSpec)"),
    # Internal types that public signatures name; they are not part of the API.
    ("py:class", r"(flask_rustpath\.pairing\.)?F"),
    ("py:class", r"(flask_rustpath\.\S+\.)?(KernelOptions|Native|Parameter|KernelSpec)"),
    ("py:class", r"(flask_rustpath\.\S+\.)?(Runtime|RustPathState|AppSettings|KernelSettings)"),
]

html_theme = "furo"
html_title = f"flask-rustpath {version}"
html_static_path = ["_static"]
smartquotes_action = "qe"  # keep "--option" as typed: no en dashes
