"""Text that Python and Rust implementations disagree on: generated, and a corpus.

Random code points rarely hit the characters where ``str`` methods and Rust's ``char``
methods differ, and never make words. A text kernel's twins disagree on:

- marks: Indic vowel signs (Devanagari U+093E to U+094C) are alphabetic to Rust's
  ``char::is_alphanumeric`` (Unicode's ``Alphabetic`` property) and not to Python's
  ``str.isalnum`` (letters and numbers by general category);
- digits: ``str.isdigit``, ``isdecimal`` and ``isnumeric`` take the digits of every
  script (category ``Nd``: ``१२३``, ``٣``, fullwidth ``U+FF10``), ``is_ascii_digit`` only ``0-9``;
- case: ``'ß'.upper()`` is ``'SS'``, ``'İ'.lower()`` is two code points, a Greek
  capital sigma lowers to ``ς`` at the end of a word;
- words: which characters split them (``\\x85``, U+2028, U+3000, ZWJ inside emoji).

:func:`text_strategy` draws text from all of these: single characters of every general
category and of the sets above, words made of one script's letters and marks or of one
script's digits, and the words and characters of :func:`corpus`, real sentences in
many scripts shipped in ``corpus.txt``. Needs hypothesis; the corpus does not.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib.resources import files
from typing import Any

from ..support.extras import require

# Characters implementations disagree on: what ``str.splitlines``, regexes, byte-level
# code and UTF-16 code treat differently.
TRICKY_CHARACTERS = (
    "\r\n\t\x00\x0b\x0c\x1b\x7f"  # control characters, \r and \n alone or as \r\n
    "\x85\u2028\u2029"  # NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: line breaks to some
    "\u00a0\u3000"  # non-breaking and ideographic spaces
    "\u0301\u0308\u20dd"  # combining marks
    "\u200b\u200d\ufeff"  # zero-width space and joiner, byte order mark
    "\u00e9\u0130\u00df"  # precomposed, dotted capital I and sharp s: case mapping changes length
    "\U0001f600\U0001f469\U00010348\U0001d11e"  # astral: two UTF-16 code units each
)

# Vowel signs and other dependent marks of Indic and South-East Asian scripts:
# alphabetic to Unicode (and Rust), not letters to Python's general categories.
INDIC_SIGNS = (
    "".join(
        chr(c)
        for first, last in (
            (0x093E, 0x094C),  # Devanagari vowel signs
            (0x0981, 0x0983),  # Bengali candrabindu, anusvara, visarga
            (0x09BE, 0x09CC),  # Bengali vowel signs
            (0x0BBE, 0x0BCC),  # Tamil vowel signs
            (0x0C3E, 0x0C4C),  # Telugu vowel signs
            (0x0E34, 0x0E3A),  # Thai vowels above and below
        )
        for c in range(first, last + 1)
        if unicodedata.category(chr(c)) in ("Mn", "Mc")
    )
    + "\u094d\u0e31\u0e47\u17b6\u0dca"
)  # viramas, Thai and Khmer signs

# Characters whose upper or lower case differs in length, by context or by language.
CASE_SPECIALS = (
    "ßẞİıΣσςΐΰŉǰﬁﬀﬃﬆ"  # length-changing case maps, Greek sigmas
    "ǅǈǋǲ"  # title-case digraphs
    "\u212a\u212b\u2126"  # Kelvin, Angstrom and Ohm signs: case-fold to K, å, ω
    "\u0345"  # combining ypogegrammeni: upper-cases to a capital iota
)

# Words whose case mapping depends on context or changes their length: a final sigma
# (lower-cased as the last letter of a word only), sharp s, dotted and dotless i,
# ligatures and title-case digraphs.
CASE_WORDS = (
    "ΟΔΥΣΣΕΥΣ",
    "ΣΊΣΥΦΟΣ",
    "ΣΑΣ",
    "Straße",
    "İstanbul",
    "\u0131l\u0131k",
    "ﬁnal",
    "ǅungla",
)

# Direction marks and isolates, joiners and emoji modifiers.
FORMATTING = (
    "\u200e\u200f\u061c"  # LRM, RLM, Arabic letter mark
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # embeddings, isolates
    "\u200c\u200d\ufe0f\ufe0e\u00ad"  # ZWNJ, ZWJ, variation selectors, soft hyphen
    "\U0001f3fb\U0001f3fd\U0001f3ff"  # skin tones
    "\U0001f1eb\U0001f1f7"  # regional indicators F and R: a flag
)

# Every general category but unassigned code points (Cn: their properties depend on each
# side's Unicode version, not on the code) and lone surrogates (Cs: not text).
CATEGORIES = (
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
    "Zs", "Zl", "Zp", "Cc", "Cf", "Co",
)  # fmt: skip

SEPARATORS = (" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2028", "\x85", ", ", "-", "")


@cache
def corpus() -> tuple[tuple[str, str], ...]:
    """The shipped sentences, as ``(script, sentence)`` pairs."""
    text = files("flask_rustpath.core").joinpath("corpus.txt").read_text(encoding="utf-8")
    sentences = []
    # Split on line feeds only: sentences hold NEL and U+2028, which splitlines() splits on.
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        script, _, sentence = line.partition("\t")
        sentences.append((script, sentence.replace("\\r", "\r").replace("\\n", "\n")))
    return tuple(sentences)


def corpus_sentences() -> tuple[str, ...]:
    return tuple(sentence for _, sentence in corpus())


def corpus_words() -> tuple[str, ...]:
    """Every whitespace-separated word of the corpus, in order, without repeats."""
    return tuple(dict.fromkeys(w for sentence in corpus_sentences() for w in sentence.split()))


def digit_run(digit: str, length: int) -> str:
    """``length`` digits of ``digit``'s own script (its block of ten), from ``digit`` on."""
    zero = ord(digit) - unicodedata.decimal(digit)
    return "".join(chr(zero + (unicodedata.decimal(digit) + i) % 10) for i in range(length))


def text_strategy(min_size: int = 0, max_size: int = 20) -> Any:
    """Text up to ``max_size`` characters long from characters, words and sentences
    where implementations disagree (see the module docstring)."""
    require("hypothesis", "generating inputs")
    from hypothesis import strategies as st

    character = st.one_of(
        st.sampled_from(TRICKY_CHARACTERS),
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(CATEGORIES).flatmap(
            lambda c: st.characters(categories=[c])  # type: ignore[list-item]
        ),
        st.sampled_from(INDIC_SIGNS),
        st.sampled_from(CASE_SPECIALS),
        st.sampled_from(FORMATTING),
    )
    # Lists joined, not st.text(characters): text() merges its alphabet into one range
    # of code points and draws mostly low ones, so U+2028 or an emoji would be rare.
    characters = st.lists(character, max_size=max_size).map("".join)
    letters = st.sampled_from(corpus_words()).flatmap(
        # A corpus word with marks or case specials in it: one script's letters and signs.
        lambda word: st.lists(
            st.one_of(st.sampled_from(word), st.sampled_from(INDIC_SIGNS + CASE_SPECIALS)),
            min_size=1,
            max_size=6,
        ).map("".join)
    )
    digits = st.builds(
        digit_run, st.characters(categories=["Nd"]), st.integers(min_value=1, max_value=4)
    )
    cased = st.sampled_from(CASE_WORDS).flatmap(
        lambda word: st.sampled_from((word, word.upper(), word.lower(), word.title()))
    )
    # Plain characters first: a failing word shrinks to the characters that fail.
    word = st.one_of(characters, st.sampled_from(corpus_words()), digits, letters, cased)
    words = st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), max_size=6).map(
        lambda pairs: "".join(w + s for w, s in pairs)
    )
    # A sentence's characters in order, some left out: its scripts, marks and joiners
    # side by side. (Whole sentences are checked by `check` itself.) Drawn as positions,
    # so that a failing one shrinks to the one character that fails.
    sentence = st.sampled_from(corpus_sentences()).flatmap(
        lambda text: st.lists(
            st.integers(min_value=0, max_value=len(text) - 1), max_size=max_size, unique=True
        ).map(lambda positions: "".join(text[i] for i in sorted(positions)))
    )
    return (
        st.one_of(characters, words, sentence)
        .map(lambda text: text[:max_size])
        .filter(lambda text: len(text) >= min_size)
    )
