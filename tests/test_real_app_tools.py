"""``compare /URL`` and ``bench --url`` on logged-in views of a real app's shape
(``tests.apps.shop``: an app factory calling ``init_app`` before its blueprints,
Flask-Login on every view, a Flask-WTF login form with CSRF).

A view behind a login answers an anonymous client with a 302 to the login page on
both sides: that must never read as a match, nor be measured as the view.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from flask_rustpath.serving import hey
from flask_rustpath.serving import launch as serving
from tests.apps import shop

from . import support

ROOT = Path(__file__).resolve().parent.parent
API = "/reports/api/1000"


@pytest.fixture
def app(shop_app: Flask) -> Flask:
    return shop_app


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["rustpath", *args])


def lines(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.strip()}


def session_cookie(app: Flask) -> str:
    """Alice's session cookie, from a login through the real form."""
    client = app.test_client()
    page = client.get("/auth/login").data
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    fields = {"username": "alice", "password": shop.PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/auth/login", data=fields).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


LOGIN = ["--login", "/auth/login", "-F", "username=alice", "-F", f"password={shop.PASSWORD}"]


# -- compare /URL --------------------------------------------------------------------------


def test_compare_an_anonymous_login_redirect_is_not_compared(app: Flask) -> None:
    result = run(app, "compare", API)
    assert result.exit_code == 2, result.output
    found = lines(result.output)
    assert "302" in found["python"] and "-> /auth/login?next=" in found["python"]
    assert found["match"].startswith("match   not compared: python answered 302, a redirect to")
    assert "--login PATH" in result.output
    assert "match   yes" not in result.output


@pytest.mark.parametrize(
    "how",
    [
        lambda cookie: ["--cookie", f"session={cookie}"],
        # The example of compare's own --help before: werkzeug's test client dropped it.
        lambda cookie: ["-H", f"Cookie: session={cookie}"],
        lambda cookie: LOGIN,
    ],
    ids=["--cookie", "-H Cookie", "--login"],
)
def test_compare_a_logged_in_view_carries_the_session(app: Flask, how) -> None:
    result = run(app, "compare", API, *how(session_cookie(app)))
    assert result.exit_code == 0, result.output
    found = lines(result.output)
    assert found["python"].split()[3:5] == ["200", "application/json"]
    assert found["rust"].split()[3:5] == ["200", "application/json"]
    assert found["match"] == "match   yes"


def test_compare_logs_in_through_a_csrf_protected_form(app: Flask) -> None:
    result = run(app, "compare", API, *LOGIN)
    assert "login   POST /auth/login answered 302, to /reports/primes/10" in result.output


def test_compare_with_a_wrong_password_is_not_compared(app: Flask) -> None:
    result = run(
        app, "compare", API, "--login", "/auth/login", "-F", "username=alice", "-F",
        "password=wrong",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "POST /auth/login answered 200 (a login usually redirects" in result.output
    assert "not compared" in result.output


def test_compare_refuses_bad_access_options(app: Flask) -> None:
    result = run(app, "compare", API, "-F", "username=alice")
    assert result.exit_code == 2 and "give --login /PATH too" in result.output
    result = run(app, "compare", API, "--login", "/auth/login", "-F", "usr=alice")
    assert result.exit_code == 2 and "has no field usr" in result.output
    assert "csrf_token" in result.output  # the form's fields are listed
    result = run(app, "compare", API, "--cookie", "session")
    assert result.exit_code == 2 and "expected --cookie name=value" in result.output
    result = run(app, "compare", "prime_total", "10", "--cookie", "a=b")
    assert result.exit_code == 2 and "are for a /URL" in result.output


def test_compare_reports_a_side_that_alone_refuses(app: Flask) -> None:
    """One side 4xx, the other 2xx: the sides disagree, whatever the cause."""
    cookie = session_cookie(app)
    app.config["TESTING"] = True
    # The Python side's limit is 3,000,000; the Rust side has none.
    result = run(app, "compare", "/reports/api/3000001", "--cookie", f"session={cookie}")
    assert result.exit_code == 1, result.output
    assert "note    only python answered 422, a client error" in result.output
    assert "status: python 422, rust 200" in result.output
    assert "match   NO" in result.output


# -- bench --url ---------------------------------------------------------------------------


def _hey_or_skip() -> None:
    if shutil.which("hey") is None:
        support.missing("hey is not installed (apt-get install hey)")


@pytest.mark.slow
def test_hey_counts_a_redirect_instead_of_following_it(app: Flask, tmp_path: Path) -> None:
    _hey_or_skip()
    env = {"GUNICORN_APP": "tests.apps.shop:create_app()", "WEB_CONCURRENCY": "1"}
    with serving.gunicorn(env, tmp_path / "gunicorn.log", cwd=ROOT, ready_path="/healthz") as base:
        anonymous = hey.run(base + "/python" + API, concurrency=1, duration_s=0.5)
        assert set(anonymous.status_codes) == {302}
        assert anonymous.ok_responses == 0 and anonymous.problems()
        cookie = [f"Cookie: session={session_cookie(app)}"]
        logged_in = hey.run(base + "/python" + API, concurrency=1, duration_s=0.5, headers=cookie)
        assert set(logged_in.status_codes) == {200}
        assert logged_in.problems() == []


@pytest.mark.slow
def test_bench_url_of_a_logged_in_view(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    _hey_or_skip()
    monkeypatch.chdir(ROOT)
    common = ["bench", "--url", API, "--serve", "tests.apps.shop:create_app()",
              "-c", "1", "-d", "0.5", "--workers", "1", "--threads", "2"]  # fmt: skip
    anonymous = run(app, *common)
    assert anonymous.exit_code == 1, anonymous.output
    assert "hey /" not in anonymous.output  # the login page was not loaded
    assert f"FAILED: /python{API} not measured: it answered 302, a redirect to /auth/login" in (
        anonymous.output
    )
    assert "--login PATH" in anonymous.output
    logged_in = run(app, *common, *LOGIN)
    assert logged_in.exit_code == 0, logged_in.output
    assert f"hey /rust{API} c=1" in logged_in.output
    [row] = [line.split() for line in logged_in.output.splitlines() if line.startswith(API)]
    assert float(row[2].replace(",", "")) > 0 and float(row[3].replace(",", "")) > 0


def test_the_database_is_shared_with_servers(app: Flask) -> None:
    """The fixture's contract with the gunicorn tests above."""
    assert os.environ["SHOP_DATABASE"] in app.config["SQLALCHEMY_DATABASE_URI"]
