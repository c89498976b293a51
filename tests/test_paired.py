"""Paired views keep everything Flask gives a view, on all three URLs.

Runs the tutorial-shaped app in tests/apps/blog.py through the test client, and the
properties that depend on a real server (process-pool shadow, forked workers) under
real gunicorn on loopback.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, stream_with_context

from bench import launch as serving
from flask_rustpath import RustPath, url_for
from flask_rustpath.core.errors import LimitExceeded, Misconfigured
from flask_rustpath.kernels import sum_of_primes_sieve
from tests.apps import blog
from tests.servers import ROOT, assert_blog_serves

ALICE = {"Authorization": "Bearer alice-token"}
SIDES = ("", "/python", "/rust")


@pytest.fixture
def app() -> Flask:
    return blog.create_app({"TESTING": True})


@pytest.mark.parametrize("prefix", SIDES)
def test_login_required_refuses_anonymous_clients_on_every_side(app: Flask, prefix: str) -> None:
    response = app.test_client().get(f"{prefix}/blog/stats/1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"


@pytest.mark.parametrize("prefix", SIDES)
def test_abort_404_gives_the_apps_own_404_on_every_side(app: Flask, prefix: str) -> None:
    response = app.test_client().get(f"{prefix}/blog/stats/99", headers=ALICE)
    assert response.status_code == 404
    assert response.get_data(as_text=True) == "<h1>The blog has no such page</h1>"


@pytest.mark.parametrize("prefix", SIDES)
def test_abort_403_keeps_its_status(app: Flask, prefix: str) -> None:
    assert app.test_client().get(f"{prefix}/blog/stats/2", headers=ALICE).status_code == 403


@pytest.mark.parametrize("prefix", SIDES)
def test_blueprint_hooks_run_on_every_side(app: Flask, prefix: str) -> None:
    response = app.test_client().get(f"{prefix}/blog/stats/1", headers=ALICE)
    assert response.status_code == 200
    assert response.headers[blog.BLUEPRINT_HOOK_HEADER] == "ran"


def test_each_side_runs_its_own_kernel_and_says_so(app: Flask) -> None:
    client = app.test_client()
    expected = sum_of_primes_sieve(len(blog.POSTS[1]["body"]) * 1000)
    for prefix, side in (("/python", "python"), ("/rust", "rust"), ("", "rust")):
        response = client.get(f"{prefix}/blog/stats/1", headers=ALICE)
        assert response.get_json() == {"post": 1, "prime_sum": expected}
        assert response.headers["X-RustPath-Backend"] == side
        timing = response.headers["Server-Timing"]
        assert re.fullmatch(rf'{side};dur=\d+\.\d{{3}};desc="prime_sum"', timing), timing


def test_the_plain_backend_follows_the_configuration() -> None:
    app = blog.create_app({"RUSTPATH_BACKENDS": {"prime_sum": "python"}})
    response = app.test_client().get("/blog/stats/1", headers=ALICE)
    assert response.headers["X-RustPath-Backend"] == "python"


@pytest.mark.parametrize(
    "path",
    ["/blog/stats/1", "/blog/page/1", "/blog/async/1000", "/about", "/blog/stats/99"],
)
def test_the_plain_rule_answers_byte_for_byte_as_before_offloading(path: str) -> None:
    before = blog.create_app(offload=False).test_client().get(path, headers=ALICE)
    after = blog.create_app().test_client().get(path, headers=ALICE)
    assert (after.status_code, after.get_data()) == (before.status_code, before.get_data())
    assert after.content_type == before.content_type


@pytest.mark.parametrize("prefix", SIDES)
def test_a_json_post_with_a_tuple_return_keeps_its_status(app: Flask, prefix: str) -> None:
    response = app.test_client().post(f"{prefix}/blog/score", json={"n": 100}, headers=ALICE)
    assert response.status_code == 201
    assert response.get_json() == {"user": "alice", "score": 1060}


@pytest.mark.parametrize("prefix", SIDES)
def test_an_async_view_is_paired(app: Flask, prefix: str) -> None:
    response = app.test_client().get(f"{prefix}/blog/async/100")
    assert response.status_code == 200
    assert response.get_json() == {"n": 100, "total": 1060}
    assert response.headers["X-RustPath-Backend"] == (prefix.strip("/") or "rust")


@pytest.mark.parametrize("prefix", SIDES)
def test_a_template_view_renders_on_every_side(app: Flask, prefix: str) -> None:
    response = app.test_client().get(f"{prefix}/blog/page/1", headers=ALICE)
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("<h1>Hello</h1>")


def test_an_unpaired_view_is_the_apps_404_under_a_side_prefix(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/about").status_code == 200
    for prefix in ("/python", "/rust"):
        response = client.get(f"{prefix}/about")
        assert response.status_code == 404
        assert response.get_data(as_text=True) == "<h1>The blog has no such page</h1>"


def test_a_missing_trailing_slash_redirect_keeps_the_side() -> None:
    app = Flask(__name__)
    rustpath = RustPath(app)

    @app.route("/items/")
    @rustpath.paired
    def items() -> str:
        return "items"

    response = app.test_client().get("/rust/items")
    assert response.status_code in (301, 308)
    assert response.headers["Location"].endswith("/rust/items/")


def test_url_for_builds_every_variant(app: Flask) -> None:
    with app.test_request_context():
        assert url_for("blog.stats", post_id=3) == "/blog/stats/3"
        assert url_for("blog.stats", post_id=3, side="python") == "/python/blog/stats/3"
        assert url_for("blog.stats", post_id=3, side="rust") == "/rust/blog/stats/3"
        assert url_for("blog.stats", post_id=3, side="rust", _external=True) == (
            "http://localhost/rust/blog/stats/3"
        )
        with pytest.raises(ValueError, match="not a paired view"):
            url_for("about", side="rust")


def test_url_for_keeps_the_mount_point_of_an_app_under_a_script_root(app: Flask) -> None:
    with app.test_request_context("/", base_url="http://localhost/mounted/"):
        assert url_for("blog.stats", post_id=3, side="rust") == "/mounted/rust/blog/stats/3"


def test_url_for_is_in_templates(app: Flask) -> None:
    with app.test_request_context():
        rendered = app.jinja_env.from_string(
            "{{ rustpath_url_for('blog.stats', post_id=1, side='python') }}"
        ).render()
    assert rendered == "/python/blog/stats/1"


def test_shadow_runs_the_kernel_off_the_request_and_counts_the_planted_mismatch() -> None:
    # The view reads g.user; the kernel gets only plain values, so the reference can
    # run in the process pool with no request context: the production path.
    app = blog.create_app()
    client = app.test_client()
    agree = client.get("/blog/shadowed/100", headers=ALICE)
    differ = client.get(f"/blog/shadowed/{blog.PLANTED}", headers=ALICE)
    assert agree.get_json() == {"user": "alice", "total": 1060}
    assert differ.get_json()["total"] == sum_of_primes_sieve(blog.PLANTED)  # Rust's answer
    assert blog.rustpath.join_shadow(app)
    shadow = blog.rustpath.stats(app)["planted"]["shadow"]
    assert (shadow["match"], shadow["mismatch"]) == (1, 1)


def test_a_rule_under_a_side_prefix_is_refused_before_and_after_init_app() -> None:
    early = Flask(__name__)
    early.add_url_rule("/rust/status", "status", lambda: "ok")
    with pytest.raises(Misconfigured, match="/rust/status"):
        RustPath(early)
    late = Flask(__name__)
    RustPath(late)
    with pytest.raises(Misconfigured, match="/python/status"):
        late.add_url_rule("/python/status", "status", lambda: "ok")


def test_a_hot_rule_colliding_with_a_view_is_refused_in_either_order() -> None:
    def declare(rustpath: RustPath) -> None:
        @rustpath.hot("/total/<int:n>", rust="flask_rustpath._native:sum_of_primes")
        def total(n: int) -> int:
            return sum_of_primes_sieve(n)

    view_first = Flask(__name__)
    view_first.add_url_rule("/total/<int:count>", "count", lambda count: "")
    with pytest.raises(Misconfigured, match="collides"):
        declare(RustPath(view_first))

    hot_first = Flask(__name__)
    declare(RustPath(hot_first))
    with pytest.raises(Misconfigured, match="collides"):
        hot_first.add_url_rule("/total/<int:count>", "count", lambda count: "")


# -- real gunicorn ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_blog_under_real_gunicorn() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "gunicorn.log"
        env = {"GUNICORN_APP": "tests.apps.blog:create_app()", "WEB_CONCURRENCY": "2"}
        with serving.gunicorn(env, log, cwd=ROOT, ready_path="/about") as base:
            assert_blog_serves(base, log)
            line = next(
                line
                for line in log.read_text(errors="replace").splitlines()
                if "shadow mismatch" in line
            )
            assert re.search(r"\[pid \d+\]", line), line
            assert f"{{'n': {blog.PLANTED}}}" in line


def test_a_streamed_body_runs_its_kernels_on_the_pinned_side_with_limits() -> None:
    app = Flask(__name__)
    rustpath = RustPath(app)

    def which_python(n: int) -> str:
        return "python"

    def which_rust(n: int) -> str:
        return "rust"

    which_python.__name__ = "which"
    which = rustpath.kernel(rust=which_rust, limits={"python": {"n": 10}})(which_python)

    @app.get("/stream/<int:n>")
    @rustpath.paired
    def stream(n: int) -> Response:
        def body() -> Iterator[str]:
            yield which(n)

        return Response(stream_with_context(body()))

    client = app.test_client()
    assert client.get("/python/stream/5").get_data(as_text=True) == "python"
    assert client.get("/rust/stream/50").get_data(as_text=True) == "rust"
    with pytest.raises(LimitExceeded):  # raised while streaming, after the headers
        client.get("/python/stream/50").get_data(as_text=True)


def test_a_failed_kernel_call_still_names_its_side() -> None:
    app = blog.create_app({"RUSTPATH_LIMITS": {"prime_sum": {"python": {"n": 10}}}})
    response = app.test_client().get("/python/blog/stats/1", headers=ALICE)
    assert response.status_code == 422
    assert response.headers["X-RustPath-Backend"] == "python"
    assert response.headers["Server-Timing"] == 'python;desc="prime_sum"'


def test_a_pinned_view_sees_the_url_asked_for_and_builds_plain_urls() -> None:
    """Under ``/rust`` the view's ``request.path`` is the URL the client asked for (a
    login redirect's ``next`` comes back to the same side), ``url_for`` builds the same
    side's URL, and the twins stay out of the app's own rule listing."""
    from flask import request
    from flask import url_for as flask_url_for

    from flask_rustpath.pairing import SideRule, plain_rules

    app = Flask(__name__)
    rustpath = RustPath(app)

    @app.get("/where/<int:n>")
    @rustpath.paired
    def where(n: int) -> dict[str, str]:
        return {"path": request.path, "built": flask_url_for("where", n=n)}

    client = app.test_client()
    for prefix in SIDES:
        assert client.get(f"{prefix}/where/3").json == {
            "path": f"{prefix}/where/3",
            "built": f"{prefix}/where/3",
        }
    twins = [rule for rule in app.url_map.iter_rules("where") if isinstance(rule, SideRule)]
    assert sorted(rule.rule for rule in twins) == ["/python/where/<int:n>", "/rust/where/<int:n>"]
    assert [rule.rule for rule in plain_rules(app.url_map, "where")] == ["/where/<int:n>"]


@pytest.mark.parametrize("keep", [True, False])
def test_links_on_a_pinned_page_keep_its_side(keep: bool) -> None:
    """On a ``/rust`` page, ``url_for`` of a paired view builds its ``/rust`` URL (the
    page's links and redirects keep the browser there) and of any other view its plain
    URL; ``RUSTPATH_KEEP_SIDE = False`` builds plain URLs everywhere. ``side=`` asks."""
    from flask import redirect, render_template_string
    from flask import url_for as flask_url_for

    app = Flask(__name__)
    app.config["RUSTPATH_KEEP_SIDE"] = keep
    rustpath = RustPath(app)

    @app.get("/about")
    def about() -> str:
        return "about"

    @app.get("/stats/<int:n>")
    @rustpath.paired
    def stats(n: int) -> str:
        return render_template_string(
            "{{ url_for('stats', n=n + 1) }} {{ url_for('about') }} "
            "{{ rustpath_url_for('stats', n=n, side='plain') }} "
            "{{ rustpath_url_for('stats', n=n, side='python') }}",
            n=n,
        )

    @app.get("/next/<int:n>")
    @rustpath.paired
    def next_page(n: int) -> Any:
        return redirect(flask_url_for("stats", n=n))

    client = app.test_client()
    for prefix in SIDES:
        kept = prefix if keep else ""
        assert client.get(f"{prefix}/stats/1").text == (
            f"{kept}/stats/2 /about /stats/1 /python/stats/1"
        )
        assert client.get(f"{prefix}/next/5").headers["Location"] == f"{kept}/stats/5"
    with app.test_request_context("/"):
        assert url_for("stats", n=3) == "/stats/3"
        assert url_for("stats", n=3, side="rust") == "/rust/stats/3"
        with pytest.raises(ValueError, match="not a paired view"):
            url_for("about", side="rust")


def test_url_for_a_side_works_before_the_first_request() -> None:
    """A script or a CLI command builds side URLs before the app served anything; a
    view declared after that still gets its variants on the first request."""
    app = Flask(__name__)
    rustpath = RustPath(app)

    @app.get("/early/<int:n>")
    @rustpath.paired
    def early(n: int) -> str:
        return "early"

    with app.test_request_context("/"):
        assert url_for("early", n=1, side="rust") == "/rust/early/1"

    @app.get("/late/<int:n>")
    @rustpath.paired
    def late(n: int) -> str:
        return "late"

    client = app.test_client()
    assert client.get("/rust/early/1").text == "early"
    assert client.get("/rust/late/1").text == "late"
    assert len([r for r in app.url_map.iter_rules("early")]) == 3  # no second twins


def test_a_pinned_abort_in_an_app_with_json_routes_still_names_its_side() -> None:
    """A view's own 404 on a pinned URL, in an app with JSON routes (whose routing
    errors the middleware looks at again), keeps its ``X-RustPath-Backend``; a URL
    under the prefix that matches nothing is the app's 404, with no such header."""
    from flask import abort

    app = Flask(__name__)
    rustpath = RustPath(app)

    @rustpath.hot("/total/<int:n>", rust=sum_of_primes_sieve)
    def total(n: int) -> int:
        return sum_of_primes_sieve(n)

    @app.get("/post/<int:n>")
    @rustpath.paired
    def post(n: int) -> str:
        abort(404)

    client = app.test_client()
    response = client.get("/rust/post/3")
    assert response.status_code == 404
    assert response.headers["X-RustPath-Backend"] == "rust"
    missing = client.get("/rust/no/such/page")
    assert missing.status_code == 404
    assert "X-RustPath-Backend" not in missing.headers
    assert client.get("/rust/total/x").json["error"] == "invalid_argument"  # JSON, as plain
