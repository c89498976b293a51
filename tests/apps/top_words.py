"""A text kernel whose Rust twin is a crate written by ``flask rustpath new --kernel``.

``tests/test_kernel_new.py`` makes the crate (``rp_top_words``), fills in its body,
builds it and checks it against this reference; ``docs/kernel-walkthrough.md`` walks
through the same steps.
"""

from __future__ import annotations

from collections import Counter

from flask import Flask

from flask_rustpath import RustPath

#: The crate ``new --kernel`` writes for this kernel, in the tests.
CRATE = "rp_top_words"

rustpath = RustPath()


@rustpath.hot(
    "/top",
    methods=["POST"],
    rust=f"{CRATE}:top_words",
    # The reference is given up to 2,000 words while serving; Rust up to 100,000.
    limits={"python": {"words": 2_000}, "rust": {"words": 100_000}},
    examples=[
        {"words": ["the", "cat", "the", "hat", "a", "cat", "the"], "n": 2},
        {"words": [], "n": 3},
        {"words": ["b", "a", "b", "a", "c"], "n": 5},
        {"words": ["é", "e", "É", "e\u0301"], "n": 4},
        {"words": ["x"], "n": -1},
    ],
)
def top_words(words: list[str], n: int) -> list[tuple[str, int]]:
    """The ``n`` most frequent of ``words`` with their counts: the most frequent first,
    words of equal counts in code-point order."""
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    counts = Counter(words)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    rustpath.init_app(app)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return rustpath.health()

    return app
