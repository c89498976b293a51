"""The shop's words blueprint: a module the factory imports *after* ``init_app``, whose
kernels are therefore declared after it, as in apps whose blueprints live in their own
packages.

Its kernels take text and a list, whose limits are lengths. The Rust sides are Python
callables standing in for a crate: these tests are about settings and tools, not about
Rust speed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template_string
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from .shop import rustpath

words = Blueprint("words", __name__, url_prefix="/words")

# The longest text the Python reference is given while serving; /rust takes longer.
PYTHON_TEXT_LIMIT = 2_000
RUST_TEXT_LIMIT = 20_000
LIST_LIMIT = 50


def _count_words(text: str) -> int:
    return len(text.split())


@rustpath.kernel(
    rust=_count_words,
    limits={"python": {"text": PYTHON_TEXT_LIMIT}, "rust": {"text": RUST_TEXT_LIMIT}},
    examples=[{"text": "a few words"}],
)
def word_total(text: str) -> int:
    """How many whitespace-separated words ``text`` has."""
    return len(text.split())


# A JSON route (POST, a list in the body), declared on the blueprint.
@rustpath.hot(
    "/longest",
    rust=lambda items: max(items, key=len, default=""),
    methods=["POST"],
    blueprint=words,
    limits={"python": {"items": LIST_LIMIT}},
)
def longest_word(items: list[str]) -> str:
    """The longest of ``items`` (the first of equals)."""
    return max(items, key=len, default="")


class CountForm(FlaskForm):
    text = TextAreaField("text")


PAGE = """<!doctype html><title>Words</title><p id=total>{{ total }}</p>
<form method=post>{{ form.csrf_token }}{{ form.text }}</form>"""


@words.route("/count", methods=["GET", "POST"])
@rustpath.paired
@login_required
def count() -> Any:
    form = CountForm()
    total = word_total(form.text.data or "") if form.validate_on_submit() else None
    return render_template_string(PAGE, total=total, form=form)
