"""A docstring's summary for a web page: its reST inline markup rendered, not shown raw.

The dashboard and the demo's index show each kernel's summary. Docstrings are written
for Sphinx (``n``, :func:`name`), so shown as they are a reader would see the markup
itself. :func:`summary_html` renders literals and cross-reference roles as ``<code>``
and escapes everything else; it needs no docutils.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# ``literal``, or a role in front of a backquoted target: :func:`x`, :py:class:`~a.B`.
_INLINE = re.compile(r"``(?P<literal>.+?)``|(?::[a-z]+)+:`(?P<target>[^`]+)`")
# `title <target>` in a role: the title is what a reader sees.
_TITLED = re.compile(r"^(?P<title>.+?)\s*<[^<>]+>$")


def summary(doc: str | None) -> str:
    """The first paragraph of ``doc``, on one line (``""`` for none)."""
    paragraph = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def _role_text(target: str) -> str:
    titled = _TITLED.match(target)
    if titled:
        return titled.group("title")
    if target.startswith("~"):
        return target[1:].rsplit(".", 1)[-1]
    return target.lstrip("!")


def summary_html(doc: str | None) -> Markup:
    """:func:`summary` as HTML: ``x`` and :role:`x` become ``<code>x</code>``."""
    text = summary(doc)
    out: list[str] = []
    position = 0
    for found in _INLINE.finditer(text):
        out.append(escape(text[position : found.start()]))
        code = found.group("literal")
        if code is None:
            code = _role_text(found.group("target"))
        out.append(Markup("<code>{}</code>").format(code))
        position = found.end()
    out.append(escape(text[position:]))
    return Markup("").join(out)
