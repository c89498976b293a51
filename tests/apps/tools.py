"""An app for the tools' tests: kernels that agree and kernels with planted disagreements,
a paired view on a blueprint, a plain view, and JSON shorthand routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, abort

from flask_rustpath import RustPath


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask("tools")
    app.config.update(TESTING=True, RUSTPATH_COMPARE=True, **(config or {}))
    rustpath = RustPath()

    @rustpath.kernel(
        rust=lambda x: 3 * x if x < 500 else 3 * x + 1,  # wrong from 500 on
        limits={"python": {"x": 10_000}},
        examples=[{"x": 7}],
    )
    def triple(x: int) -> int:
        """Three times x."""
        return 3 * x

    @rustpath.kernel(rust=lambda text: text.upper(), examples=[{"text": "héllo"}])
    def shout(text: str) -> str:
        return text.upper()

    @rustpath.kernel(rust=lambda text: len(text.replace("\r", "")))  # wrong on "\r" only
    def length(text: str) -> int:
        return len(text)

    @rustpath.kernel(rust=lambda items, scale=1: sum(items) * scale)
    def total(items: list[int], scale: int = 1) -> int:
        return sum(items) * scale

    @rustpath.kernel(rust=lambda flag, ratio: ratio if flag else -ratio)
    def signed(flag: bool, ratio: float) -> float:
        return ratio if flag else -ratio

    @rustpath.kernel(
        rust="no_such_module_for_tools:f",
        limits={"python": {"n": 50}},
    )
    def bounded(n: int) -> int:
        return n

    bp = Blueprint("blog", __name__, url_prefix="/blog")

    @bp.route("/stats/<int:post_id>")
    @rustpath.paired
    def stats(post_id: int) -> dict[str, int]:
        if post_id == 404:
            abort(404)
        return {"post": post_id, "triple": triple(post_id)}

    @bp.route("/shout", methods=["POST"])
    @rustpath.paired
    def shout_view() -> Any:
        from flask import request

        return {"text": shout(request.get_json()["text"])}

    app.register_blueprint(bp)

    @app.get("/hello")
    def hello() -> str:
        return "Hello"

    rustpath.route("/shout/<text>", shout)
    rustpath.route("/total", total, methods=["POST"])
    rustpath.init_app(app)
    return app
