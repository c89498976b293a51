"""The shop's words blueprint: a module the factory imports *after* ``init_app``, whose
kernels are therefore declared after it, as in apps whose blueprints live in their own
packages.

Its kernels take text and a list, whose limits are lengths. The Rust sides are Python
callables standing in for a crate: these tests are about settings and tools, not about
Rust speed.

Two text kernels carry, on purpose, the two bugs that shadow mode caught in a real app
and ``check`` missed. Each twin reproduces the Rust call it stands for (``regex``'s
``\\p{Alphabetic}`` is the property ``char::is_alphabetic`` reads), so the twins differ
from the Python references where Rust would: on Indic vowel signs, and on words made
of digits of other scripts than ASCII.
"""

from __future__ import annotations

from typing import Any

import regex
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


# Rust's char::is_alphanumeric: the Alphabetic property (letters, and the marks that
# are part of letters, such as Devanagari vowel signs) or a number (Nd, Nl, No).
RUST_ALPHANUMERIC = regex.compile(r"[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}]")


def _rust_letters(text: str) -> int:
    """``text.chars().filter(|c| c.is_alphanumeric()).count()``"""
    return sum(1 for c in text if RUST_ALPHANUMERIC.match(c))


@rustpath.hot("/letters", rust=_rust_letters, methods=["POST"], blueprint=words,
              examples=[{"text": "a few words"}])  # fmt: skip
def text_letters(text: str) -> int:
    """How many letters and digits ``text`` has."""
    return sum(1 for c in text if c.isalnum())


def _rust_word_kinds(text: str) -> dict[str, int]:
    """``if word.chars().all(|c| c.is_ascii_digit()) { numbers += 1 } else { … }``"""
    numbers = sum(1 for w in text.split() if all("0" <= c <= "9" for c in w))
    return {"words": len(text.split()) - numbers, "numbers": numbers}


@rustpath.kernel(rust=_rust_word_kinds, examples=[{"text": "3 little pigs and 12 wolves"}])
def word_kinds(text: str) -> dict[str, int]:
    """How many words of ``text`` are numbers (all digits) and how many are not."""
    numbers = sum(1 for w in text.split() if w.isdecimal())
    return {"words": len(text.split()) - numbers, "numbers": numbers}


# A JSON route whose function has no annotations, as in apps that never annotated their
# views: Flask's <int:n> converter gives n, the only type information there is.
@rustpath.hot("/repeat/<word>/<int:n>", rust=lambda word, n: word * n, blueprint=words,
              examples=[{"word": "ab", "n": 3}])  # fmt: skip
def repeat_word(word, n):  # type: ignore[no-untyped-def]
    """``word``, ``n`` times."""
    return word * n


@rustpath.kernel(
    rust=lambda text, weights: sum(weights.get(w, 0) for w in text.split()),
    examples=[{"text": "a fine day", "weights": {"fine": 2, "day": 1}}],
)
def word_score(text: str, weights: dict[str, int]) -> int:
    """The sum of the ``weights`` of ``text``'s words (0 for a word without one)."""
    return sum(weights.get(word, 0) for word in text.split())


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
