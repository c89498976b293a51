"""A small blog in the shape of Flask's tutorial, with its slow parts offloaded to kernels.

It has what real apps have: a login decorator, ``g.user`` loaded by an app hook,
``abort``, a blueprint with a ``url_prefix``, its own ``before_request`` and
``after_request``, a JSON POST endpoint, a template view, an async view and the app's
own 404 page. ``create_app(offload=False)`` builds the same app before offloading:
no extension, plain functions, so responses can be compared byte for byte.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
    url_for,
)

from flask_rustpath import RustPath
from flask_rustpath.kernels import sum_of_primes_sieve

rustpath = RustPath()
RUST = "flask_rustpath._native:sum_of_primes"


@rustpath.kernel(rust=RUST, limits={"python": {"n": 10**6}}, examples=[{"n": 1000}])
def prime_sum(n: int) -> int:
    """Sum of the primes below ``n``."""
    return sum_of_primes_sieve(n)


# The reference is wrong on one input on purpose: shadow mode must report it.
PLANTED = 7919


@rustpath.kernel(rust=RUST, backend="shadow", shadow_rate=1.0)
def planted(n: int) -> int:
    """Like ``prime_sum``, but off by one at ``PLANTED``."""
    return sum_of_primes_sieve(n) + (1 if n == PLANTED else 0)


POSTS = {
    1: {"author": "alice", "title": "Hello", "body": "A first post about primes."},
    2: {"author": "bob", "title": "Bob's", "body": "Nobody else may see my stats."},
}
TOKENS = {"alice-token": "alice", "bob-token": "bob"}
BLUEPRINT_HOOK_HEADER = "X-Blog-Hook"
PAGE = "<h1>{{ post.title }}</h1><p>{{ total }}</p>"


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The tutorial's decorator: anonymous clients go to the login page."""

    @functools.wraps(view)
    def wrapped(**kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login"))
        return view(**kwargs)

    return wrapped


def create_app(config: Mapping[str, Any] | None = None, *, offload: bool = True) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    sum_below: Callable[[int], int] = prime_sum if offload else prime_sum.python
    planted_sum: Callable[[int], int] = planted if offload else planted.python
    pair: Callable[[Any], Any] = rustpath.paired if offload else (lambda view: view)
    if offload:
        rustpath.init_app(app)

    @app.before_request
    def load_logged_in_user() -> None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        g.user = TOKENS.get(token)

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return "<h1>The blog has no such page</h1>", 404

    auth = Blueprint("auth", __name__, url_prefix="/auth")

    @auth.get("/login")
    def login() -> str:
        return "log in here"

    blog = Blueprint("blog", __name__, url_prefix="/blog")

    @blog.before_request
    def count_blog_request() -> None:
        g.blog_hook = True

    @blog.after_request
    def mark_blog_response(response: Any) -> Any:
        response.headers[BLUEPRINT_HOOK_HEADER] = "ran" if g.get("blog_hook") else "missing"
        return response

    def post_of(post_id: int) -> dict[str, str]:
        post = POSTS.get(post_id)
        if post is None:
            abort(404)
        if post["author"] != g.user:
            abort(403)
        return post

    @blog.route("/stats/<int:post_id>")
    @pair
    @login_required
    def stats(post_id: int) -> Any:
        post = post_of(post_id)
        return jsonify(post=post_id, prime_sum=sum_below(len(post["body"]) * 1000))

    @blog.route("/page/<int:post_id>")
    @pair
    @login_required
    def page(post_id: int) -> str:
        post = post_of(post_id)
        return render_template_string(PAGE, post=post, total=sum_below(len(post["body"])))

    @blog.route("/async/<int:n>")
    @pair
    async def async_total(n: int) -> dict[str, int]:
        return {"n": n, "total": sum_below(n)}

    @blog.route("/score", methods=["POST"])
    @pair
    @login_required
    def score() -> Any:
        body = request.get_json(force=True)
        if not isinstance(body, dict) or not isinstance(body.get("n"), int):
            abort(400)
        return {"user": g.user, "score": sum_below(body["n"])}, 201

    @blog.route("/shadowed/<int:n>")
    @pair
    @login_required
    def shadowed(n: int) -> dict[str, Any]:
        return {"user": g.user, "total": planted_sum(n)}

    @app.get("/about")
    def about() -> str:
        return "an ordinary page"

    app.register_blueprint(auth)
    app.register_blueprint(blog)
    return app
