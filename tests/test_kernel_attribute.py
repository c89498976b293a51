"""``#[rustpath::kernel]``: one function, two doors that end a call the same way.

``_native._rank_words`` (a ``test-hooks`` build only) is written with the attribute;
its Python function and its native entry point must agree on results, on bad input
(``ValueError`` and status 1, both naming the kernel), on a passed deadline
(``TimeoutError`` and status 2) and on a panic (``PanicException`` and status 3).
"""

from __future__ import annotations

import json
import math
import sys

import pytest

from flask_rustpath import Kernel, _native
from flask_rustpath.testing import ParityError, assert_native_parity

from .native_hooks import requires_panic_hook
from .test_crates import call_native, native_entry

pytestmark = requires_panic_hook


def entry() -> object:
    return native_entry(_native._test_native["_rank_words"])


def native(args: object, timeout: float = 0.0, cancelled: bool = False) -> tuple[int, str]:
    return call_native(entry(), json.dumps(args).encode(), timeout, cancelled)


@pytest.mark.parametrize(
    ("words", "limit"),
    [([], 3), (["tree", "aeon", "sky"], 2), (["b", "a", "AE", "é"], 10), (["x"] * 50, 0)],
)
def test_both_doors_give_the_same_result(words: list[str], limit: int) -> None:
    result = _native._rank_words(words, limit)
    assert all(isinstance(pair, tuple) for pair in result)
    assert native({"words": words, "limit": limit}) == (
        0,
        json.dumps(result, separators=(",", ":"), ensure_ascii=False),
    )


def test_bad_input_is_one_message_naming_the_kernel() -> None:
    with pytest.raises(ValueError) as refused:
        _native._rank_words(["a"], -2)
    assert str(refused.value) == "_rank_words: limit must not be negative, got -2"
    assert native({"words": ["a"], "limit": -2}) == (1, str(refused.value))
    assert native({"words": ["a"]}) == (1, "_rank_words: missing argument 'limit'")
    status, message = native({"words": "a", "limit": 1})
    assert status == 1 and message.startswith("_rank_words: argument 'words': "), message


def test_a_passed_deadline_is_a_timeout_from_both_doors() -> None:
    words = ["aeiou" * 20] * 2_000_000
    with pytest.raises(TimeoutError, match=r"^_rank_words stopped at its deadline"):
        _native._rank_words(words, 1, timeout=1e-6)
    assert native({"words": ["a"] * 200_000, "limit": 1}, timeout=1e-6) == (2, "")
    assert native({"words": ["a"], "limit": 1}, cancelled=True) == (2, "")
    for bad in [0.0, -1.0, math.nan, math.inf]:
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            _native._rank_words(["a"], 1, timeout=bad)
    # No timeout, or a far one, changes nothing.
    assert _native._rank_words(["a"], 1, timeout=60.0) == [("a", 1)]


def test_a_panic_is_a_failure_from_both_doors() -> None:
    with pytest.raises(BaseException, match="limit -1 panics, on purpose") as raised:
        _native._rank_words(["a"], -1)
    assert type(raised.value).__name__ == "PanicException"
    assert native({"words": ["a"], "limit": -1}) == (
        3,
        "the kernel panicked: limit -1 panics, on purpose",
    )
    assert _native._rank_words(["ab"], 1) == [("ab", 1)]  # and it still works


# --- assert_native_parity: the native door against a Python reference ----------------


def rank_words(words: list[str], limit: int) -> list[tuple[str, int]]:
    """``_rank_words``'s reference: a panic for -1 is a failure, not a refusal."""
    if limit == -1:
        raise RuntimeError("the Rust side panics here, on purpose")
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    ranked = sorted(((w, sum(c in "aeiouAEIOU" for c in w)) for w in words), key=by_vowels)
    return ranked[:limit]


def by_vowels(pair: tuple[str, int]) -> tuple[int, str]:
    return (-pair[1], pair[0])


def ties_reversed(words: list[str], limit: int) -> list[tuple[str, int]]:
    """Wrong only where two words have as many vowels."""
    ranked = rank_words(words, limit)
    return sorted(ranked, key=lambda pair: (-pair[1], [-ord(c) for c in pair[0]]))


@pytest.fixture
def native_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """A module exporting ``_rank_words``'s native entry as a crate exports its own."""
    module = type(_native)("rank_crate")
    module.__rustpath_native__ = {"rank_words": _native._test_native["_rank_words"]}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rank_crate", module)
    return "rank_crate:rank_words"


def test_native_parity_passes_for_an_agreeing_reference(native_module: str) -> None:
    kernel = Kernel(rank_words, rust=native_module, examples=[{"words": ["x"], "limit": -1}])
    assert assert_native_parity(kernel, max_examples=20) > 20


@pytest.mark.slow  # hypothesis shrinks the failing input: seconds
def test_native_parity_names_the_smallest_disagreement(native_module: str) -> None:
    kernel = Kernel(ties_reversed, rust=native_module, name="rank_words")
    with pytest.raises(ParityError, match="python and the native entry point disagree") as found:
        assert_native_parity(kernel, max_examples=30)
    assert "native ok" in str(found.value)
