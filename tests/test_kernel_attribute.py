"""``#[rustpath::kernel]``: one function, two doors that end a call the same way.

``_native._rank_words`` (a ``test-hooks`` build only) is written with the attribute;
its Python function and its native entry point must agree on results, on bad input
(``ValueError`` and status 1, both naming the kernel), on a passed deadline
(``TimeoutError`` and status 2) and on a panic (``PanicException`` and status 3).
"""

from __future__ import annotations

import json
import math

import pytest

from flask_rustpath import _native

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
