"""``flask_rustpath.testing``: assert_parity on kernels, its generated inputs, and the fixture."""

from __future__ import annotations

import unicodedata

import pytest
from flask import Flask

from flask_rustpath import Kernel, RustPath
from flask_rustpath.testing import (
    DEFAULT_MAX,
    NoStrategy,
    ParityError,
    assert_parity,
    corpus_sentences,
    input_strategy,
    strategy_for,
    text_strategy,
)

from .apps.tools import create_app

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
# find() with the same draws on every run, as check and assert_parity do
FIND = hypothesis.settings(derandomize=True, database=None, max_examples=500)


@pytest.fixture
def app() -> Flask:
    """The app the ``rustpath_parity`` fixture checks against."""
    return create_app()


def test_given_inputs_and_examples_are_checked_first(app: Flask) -> None:
    with pytest.raises(ParityError, match=r"triple: python and rust disagree on \{'x': 777\}"):
        assert_parity("triple", app=app, inputs=[{"x": 1}, {"x": 777}], max_examples=0)
    assert assert_parity("triple", app=app, inputs=[{"x": 1}], max_examples=0) == 2  # + example


def test_generated_ints_find_the_smallest_disagreement(app: Flask) -> None:
    with pytest.raises(
        ParityError, match=r"\{'x': 500\}: python returned 1500, rust returned 1501"
    ):
        assert_parity("triple", app=app)


def test_a_kernel_that_disagrees_only_on_carriage_return_is_caught() -> None:
    def length(text: str) -> int:
        return len(text)

    kernel = Kernel(length, rust=lambda text: len(text.replace("\r", "")))
    with pytest.raises(ParityError, match=r"\{'text': '\\r'\}"):
        assert_parity(kernel)  # no app: a bare one is used
    # and an honest twin passes the very same inputs
    # (and on every sentence of the built-in corpus after them)
    checked = assert_parity(Kernel(length, rust=lambda text: len(text)))
    assert checked == 100 + len(corpus_sentences())


@pytest.mark.parametrize(
    "wanted",
    [
        "\r",
        "\x85",
        "\u2028",
        "\u2029",
        "\x00",
        "\x1b",
    ],
)
def test_text_includes_the_characters_implementations_disagree_on(wanted: str) -> None:
    found = hypothesis.find(text_strategy(), lambda text: wanted in text, settings=FIND)
    # shrunk: the character, with at most two others of the word or sentence it came in
    assert wanted in found and len(found) <= 3


@pytest.mark.parametrize(
    ("what", "predicate"),
    [
        ("a combining mark", lambda c: unicodedata.category(c) == "Mn"),
        ("an astral character", lambda c: ord(c) > 0xFFFF),
        ("a control character other than \\r", lambda c: unicodedata.category(c) == "Cc"),
    ],
)
def test_text_includes_classes_of_characters(what: str, predicate) -> None:
    found = hypothesis.find(text_strategy(), lambda text: any(map(predicate, text)), settings=FIND)
    assert len(found) == 1 and predicate(found), what


def test_text_never_holds_lone_surrogates() -> None:
    @hypothesis.given(text_strategy())
    @hypothesis.settings(max_examples=300, database=None)
    def encodable(text: str) -> None:
        text.encode("utf-8")

    encodable()


def test_ints_are_bounded_by_the_python_limit_and_go_negative() -> None:
    seen: list[int] = []

    def record(n: int) -> int:
        seen.append(n)
        return n

    app = Flask("bounds")
    rustpath = RustPath(app)
    limited = rustpath.kernel(rust=lambda n: n, limits={"python": {"n": 50}}, name="lim")(record)
    assert_parity(limited, app=app, max_examples=200)
    assert max(seen) <= 50 and min(seen) < 0
    seen.clear()
    unlimited = rustpath.kernel(rust=lambda n: n, name="unlim")(record)
    assert_parity(unlimited, app=app, max_examples=200)
    assert max(seen) <= DEFAULT_MAX and min(seen) >= -DEFAULT_MAX and max(seen) > 50


def test_the_apps_limits_override_the_kernels_own() -> None:
    seen: list[int] = []

    def record(n: int) -> int:
        seen.append(n)
        return n

    app = Flask("config_limits")
    app.config["RUSTPATH_LIMITS"] = {"k": {"python": {"n": 5}}}
    rustpath = RustPath(app)
    kernel = rustpath.kernel(rust=lambda n: n, limits={"python": {"n": 500}}, name="k")(record)
    assert_parity(kernel, app=app, max_examples=100)
    assert max(seen) <= 5


def test_strategies_follow_the_annotations() -> None:
    def kinds(
        flag: bool, ratio: float, items: list[int], pair: tuple[str, int], extra: int | None = None
    ) -> None: ...

    strategy = input_strategy(Kernel(kinds, rust=kinds))

    @hypothesis.given(strategy)
    @hypothesis.settings(max_examples=100, database=None)
    def typed(kwargs: dict) -> None:
        assert isinstance(kwargs["flag"], bool)
        assert isinstance(kwargs["ratio"], float) and kwargs["ratio"] == kwargs["ratio"]
        assert abs(kwargs["ratio"]) != float("inf")
        assert all(isinstance(i, int) for i in kwargs["items"])
        assert isinstance(kwargs["pair"][0], str) and isinstance(kwargs["pair"][1], int)
        assert kwargs.get("extra") is None or isinstance(kwargs["extra"], int)

    typed()
    with pytest.raises(NoStrategy, match="no type annotation"):
        input_strategy(Kernel(lambda x: x, rust=lambda x: x))
    with pytest.raises(NoStrategy):
        strategy_for(object)


def test_a_custom_strategy_is_used_as_given() -> None:
    seen: list[int] = []

    def record(x: int) -> int:
        seen.append(x)
        return x

    strategy = st.fixed_dictionaries({"x": st.just(3)})
    kernel = Kernel(record, rust=lambda x: x, strategy=strategy)
    assert assert_parity(kernel, max_examples=5) >= 1
    assert set(seen) == {3}


def test_both_sides_failing_the_same_way_is_agreement() -> None:
    def refuse(x: int) -> int:
        raise ValueError("no")

    assert assert_parity(Kernel(refuse, rust=refuse), inputs=[{"x": 1}], max_examples=0) == 1

    def crash(x: int) -> int:
        raise KeyError(x)

    with pytest.raises(ParityError, match="python raised KeyError, rust returned 1"):
        assert_parity(Kernel(crash, rust=lambda x: x), inputs=[{"x": 1}], max_examples=0)


def test_a_compare_hook_decides_agreement() -> None:
    def third(x: float) -> float:
        return x / 3

    close = Kernel(
        third, rust=lambda x: x / 3 + 1e-12, compare=lambda a, b: abs(a - b) < 1e-9, name="c"
    )
    assert assert_parity(close, inputs=[{"x": 1.0}], max_examples=20) == 21
    strict = Kernel(third, rust=lambda x: x / 3 + 1e-12, name="s")
    with pytest.raises(ParityError):
        assert_parity(strict, inputs=[{"x": 1.0}], max_examples=0)


def test_a_rust_side_that_does_not_import_fails_at_once(app: Flask) -> None:
    with pytest.raises(ParityError, match="No module named 'no_such_module_for_tools'"):
        assert_parity("bounded", app=app)


def test_an_unknown_name_lists_the_known_kernels(app: Flask) -> None:
    with pytest.raises(KeyError, match="known: bounded, length"):
        assert_parity("nope", app=app)


def test_the_pytest_fixture(rustpath_parity) -> None:
    assert rustpath_parity("shout", max_examples=20) == 21 + len(corpus_sentences())
    with pytest.raises(ParityError, match="'\\\\r'"):
        rustpath_parity("length")
