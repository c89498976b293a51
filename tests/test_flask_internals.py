"""The reads of Flask's registries, against the Flask release installed (CI installs the
newest): if a release moves them, these fail rather than the front serving a route
natively that Flask would have changed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import flask_rustpath
from flask_rustpath import RustPath
from flask_rustpath.core.errors import BadInput, Overloaded
from flask_rustpath.flask_internals import handles_errors, hooks_applying, scopes, wsgi_app_is
from flask_rustpath.middleware import PairingMiddleware

STATUSES = frozenset({400, 503})
ERRORS = (BadInput, Overloaded)


def app_with_blueprints(
    hooks: Callable[[Blueprint, Blueprint, Blueprint], None] = lambda *blueprints: None,
) -> Flask:
    """``/z`` on the app, ``outer.inner.x`` nested and ``plain.y``; ``hooks`` may add to the
    blueprints before they are registered."""
    app = Flask(__name__)
    outer, inner, plain = (
        Blueprint("outer", __name__),
        Blueprint("inner", __name__),
        Blueprint("plain", __name__),
    )
    hooks(outer, inner, plain)
    inner.add_url_rule("/x", "x", lambda: "x")
    plain.add_url_rule("/y", "y", lambda: "y")
    outer.register_blueprint(inner, url_prefix="/inner")
    app.register_blueprint(outer, url_prefix="/outer")
    app.register_blueprint(plain, url_prefix="/plain")
    app.add_url_rule("/z", "z", lambda: "z")
    return app


def kinds(app: Flask, endpoint: str) -> list[str]:
    return [hook.split(" hook ")[0] for hook in hooks_applying(app, endpoint)]


def test_every_hook_is_named_at_once_in_flasks_order() -> None:
    def hooks(outer: Blueprint, inner: Blueprint, plain: Blueprint) -> None:
        def check_token() -> None: ...

        def add_header(response: Any) -> Any:
            return response

        inner.before_request(check_token)
        outer.after_request(add_header)

    app = app_with_blueprints(hooks)

    def count() -> None: ...

    app.before_request(count)
    found = hooks_applying(app, "outer.inner.x")
    assert [hook.split(".")[-1] for hook in found] == ["count", "check_token", "add_header"]
    assert [hook.split(" hook ")[0] for hook in found] == [
        "before_request", "before_request", "after_request",
    ]  # fmt: skip


def test_scopes_are_the_app_and_each_enclosing_blueprint() -> None:
    assert scopes("z") == [None]
    assert scopes("outer.inner.x") == [None, "outer", "outer.inner"]


def test_no_hook_applies_to_a_bare_app() -> None:
    app = app_with_blueprints()
    for endpoint in ("z", "outer.inner.x", "plain.y"):
        assert hooks_applying(app, endpoint) == []
        assert not handles_errors(app, endpoint, STATUSES, ERRORS)


def test_an_app_wide_hook_applies_everywhere() -> None:
    app = app_with_blueprints()
    app.before_request(lambda: None)
    assert kinds(app, "z") == ["before_request"]
    assert kinds(app, "outer.inner.x") == ["before_request"]


def test_a_blueprints_hooks_apply_to_its_own_and_nested_endpoints_only() -> None:
    def hooks(outer: Blueprint, inner: Blueprint, plain: Blueprint) -> None:
        outer.after_request(lambda response: response)
        plain.url_value_preprocessor(lambda endpoint, values: None)

    app = app_with_blueprints(hooks)
    assert kinds(app, "outer.inner.x") == ["after_request"]
    assert kinds(app, "plain.y") == ["url_value_preprocessor"]
    assert kinds(app, "z") == []


def test_before_app_request_on_a_blueprint_applies_app_wide() -> None:
    app = Flask(__name__)
    blueprint = Blueprint("auth", __name__)
    blueprint.before_app_request(lambda: None)
    app.register_blueprint(blueprint)
    app.add_url_rule("/z", "z", lambda: "z")
    assert kinds(app, "z") == ["before_request"]


def test_error_handlers_by_status_and_by_class() -> None:
    app = app_with_blueprints()
    app.register_error_handler(404, lambda e: ("gone", 404))  # a status the front never answers
    assert not handles_errors(app, "z", STATUSES, ERRORS)
    by_status = app_with_blueprints()
    by_status.register_error_handler(503, lambda e: ("busy", 503))
    assert handles_errors(by_status, "plain.y", STATUSES, ERRORS)
    by_class = app_with_blueprints()
    by_class.register_error_handler(Exception, lambda e: ("oops", 500))
    assert handles_errors(by_class, "z", STATUSES, ERRORS)
    blueprint_only = Flask(__name__)
    blueprint = Blueprint("api", __name__)
    blueprint.register_error_handler(400, lambda e: ("bad", 400))
    blueprint.add_url_rule("/a", "a", lambda: "a")
    blueprint_only.register_blueprint(blueprint)
    blueprint_only.add_url_rule("/z", "z", lambda: "z")
    assert handles_errors(blueprint_only, "api.a", STATUSES, ERRORS)
    assert not handles_errors(blueprint_only, "z", STATUSES, ERRORS)


def test_the_pairing_middleware_alone_is_recognised() -> None:
    app = Flask(__name__)
    assert not wsgi_app_is(app, PairingMiddleware)
    RustPath(app)
    assert wsgi_app_is(app, PairingMiddleware)
    app.wsgi_app = ProxyFix(app.wsgi_app)  # type: ignore[method-assign]
    assert not wsgi_app_is(app, PairingMiddleware)


def test_no_other_module_reads_the_registries() -> None:
    registries = re.compile(
        r"\b(before_request_funcs|after_request_funcs|url_value_preprocessors|"
        r"error_handler_spec|teardown_request_funcs|template_context_processors)\b"
    )
    package = Path(flask_rustpath.__file__).parent
    readers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if registries.search(path.read_text(encoding="utf-8"))
    )
    assert readers == ["flask_internals.py"]
