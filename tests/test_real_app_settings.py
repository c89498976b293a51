"""Settings on a real app's shape (``tests.apps.shop``: a factory calling ``init_app``
before it imports and registers its blueprints, Flask-Login on every page, Flask-WTF
forms with CSRF): kernel names in the per-kernel settings are checked once every kernel
is declared, a limit on text or a list is a length and is enforced, and the CLI says a
settings error in one line with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_rustpath import RustPath
from flask_rustpath.core.config import SettingsRefused
from flask_rustpath.core.errors import LimitExceeded, Misconfigured
from flask_rustpath.serving.answers import limit_answer
from tests.apps import shop
from tests.apps.shop_words import LIST_LIMIT, PYTHON_TEXT_LIMIT, RUST_TEXT_LIMIT
from tests.support import csrf_token

ROOT = Path(__file__).resolve().parent.parent


def create_shop(tmp_path: Path, **config: Any) -> Flask:
    database = tmp_path / "shop.sqlite"
    return shop.create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", **config}
    )


def logged_in(app: Flask) -> FlaskClient:
    """A client logged in as alice through the real login form (CSRF token included)."""
    client = app.test_client()
    token = csrf_token(client.get("/auth/login").data)
    response = client.post(
        "/auth/login",
        data={"username": "alice", "password": shop.PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.data[:300]
    return client


def post_count(client: FlaskClient, path: str, text: str) -> Any:
    token = csrf_token(client.get(path).data)
    return client.post(path, data={"text": text, "csrf_token": token})


# -- kernel names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("RUSTPATH_LIMITS", {"word_totl": {"python": {"text": 10}}}, "did you mean 'word_total'"),
        ("RUSTPATH_BACKENDS", {"prime_totals": "python"}, "did you mean 'prime_total'"),
        ("RUSTPATH_SHADOW_RATES", {"longest": 1.0}, "did you mean 'longest_word'"),
        ("RUSTPATH_BACKENDS", {"zzz": "python"}, "its kernels are 'longest_word', 'prime"),
    ],
)
def test_an_unknown_kernel_name_is_refused_on_the_first_request(
    tmp_path: Path, key: str, value: Any, hint: str
) -> None:
    app = create_shop(tmp_path, **{key: value})  # init_app cannot know: kernels come later
    client = app.test_client()
    name = next(iter(value))
    with pytest.raises(SettingsRefused, match=f"{key} names kernel '{name}'.*{hint}"):
        client.get("/auth/login")
    # Not once: every request is refused until the settings are fixed.
    with pytest.raises(SettingsRefused):
        client.get("/healthz")


def test_kernels_declared_after_init_app_may_be_named(tmp_path: Path) -> None:
    app = create_shop(
        tmp_path,
        RUSTPATH_BACKENDS={"word_total": "python"},
        RUSTPATH_LIMITS={"longest_word": {"python": {"items": 3}}},
        RUSTPATH_SHADOW_RATES={"prime_total": 0.5},
    )
    client = logged_in(app)
    response = post_count(client, "/words/count", "three little words")
    assert response.status_code == 200
    assert response.headers["X-RustPath-Backend"] == "python"  # RUSTPATH_BACKENDS applied
    assert b"<p id=total>3</p>" in response.data


def test_a_kernel_declared_after_init_app_is_checked_too() -> None:
    """The order the issue describes, with nothing imported ahead: the name is right
    only once the late declaration is made, and wrong names are still refused."""
    for name, refused in (("late", False), ("lates", True)):
        rustpath = RustPath()
        app = Flask(__name__)
        app.config.update(TESTING=True, RUSTPATH_BACKENDS={name: "python"})
        rustpath.init_app(app)

        @rustpath.kernel(rust=lambda n: n)
        def late(n: int) -> int:
            return n

        @app.get("/<int:n>")
        def view(n: int) -> str:
            return str(late(n))

        if refused:
            with pytest.raises(SettingsRefused, match="did you mean 'late'"):
                app.test_client().get("/3")
        else:
            response = app.test_client().get("/3")
            assert response.text == "3"
            assert response.headers["X-RustPath-Backend"] == "python"


def test_check_settings_can_be_called_at_the_end_of_a_factory(tmp_path: Path) -> None:
    app = create_shop(tmp_path, RUSTPATH_LIMITS={"word_totl": {}})
    with pytest.raises(Misconfigured, match="did you mean 'word_total'"):
        shop.rustpath.check_settings(app)
    shop.rustpath.check_settings(create_shop(tmp_path, RUSTPATH_LIMITS={"word_total": {}}))


def test_a_later_change_of_app_config_is_not_read(tmp_path: Path) -> None:
    """Settings are read once at init_app: the kernel names too."""
    app = create_shop(tmp_path)
    app.config["RUSTPATH_BACKENDS"] = {"nonsense": "python"}
    assert app.test_client().get("/auth/login").status_code == 200


# -- limits on text and lists are lengths --------------------------------------------------


def test_a_limit_on_text_is_its_length_on_a_logged_in_form_view(tmp_path: Path) -> None:
    client = logged_in(create_shop(tmp_path))
    at_limit = "w " * (PYTHON_TEXT_LIMIT // 2)
    assert len(at_limit) == PYTHON_TEXT_LIMIT
    response = post_count(client, "/python/words/count", at_limit)
    assert response.status_code == 200
    assert f"<p id=total>{PYTHON_TEXT_LIMIT // 2}</p>".encode() in response.data
    response = post_count(client, "/python/words/count", at_limit + "w")
    assert response.status_code == 422
    assert f"text has length {PYTHON_TEXT_LIMIT + 1}, above the python limit" in response.text
    # The Rust side has its own, higher limit; above it, refused too.
    assert post_count(client, "/rust/words/count", at_limit + "w").status_code == 200
    response = post_count(client, "/rust/words/count", "w" * (RUST_TEXT_LIMIT + 1))
    assert response.status_code == 422
    assert "above the rust limit" in response.text


def test_a_limit_on_a_list_is_its_length_on_a_json_route(tmp_path: Path) -> None:
    client = create_shop(tmp_path).test_client()
    items = ["a"] * LIST_LIMIT
    response = client.post("/python/words/longest", json={"items": [*items[1:], "abc"]})
    assert response.status_code == 200
    assert response.json == {"result": "abc"}
    response = client.post("/python/words/longest", json={"items": [*items, "abc"]})
    assert response.status_code == 422
    assert response.json["error"] == "limit_exceeded"
    assert response.json["argument"] == "items"
    assert response.json["limit"] == LIST_LIMIT
    assert response.json["message"].startswith(f"items has length {LIST_LIMIT + 1}")


@pytest.mark.parametrize("limit", [10.5, -1, True, "10"])
def test_a_length_limit_must_be_a_whole_number(tmp_path: Path, limit: Any) -> None:
    with pytest.raises(Misconfigured, match="'text'"):
        create_shop(tmp_path, RUSTPATH_LIMITS={"word_total": {"python": {"text": limit}}})


def test_the_front_answers_a_text_limit_with_the_length_too() -> None:
    """The front fills ``{value}`` of a text argument's 422 with its length
    (``rust_src/front/native.rs``, tested there); the words are Python's own."""
    answer = limit_answer("word_total", "text", 5, length=True)
    body = answer["body"].format(value="6")  # the front fills it the same way
    expected = LimitExceeded.longer("word_total", "rust", "text", 6, 5)
    assert json.loads(body)["message"] == expected.message
    assert answer["status"] == 422


# -- one line, exit 2, in the CLI ----------------------------------------------------------


def flask_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``flask --app tests.apps.shop:create_app() ARGS`` in a fresh process."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUSTPATH_", "FLASK_"))
    }
    environ.update(SHOP_DATABASE=str(tmp_path / "shop.sqlite"), PYTHONPATH=str(ROOT), **env)
    command = [sys.executable, "-m", "flask", "--app", "tests.apps.shop:create_app()", *args]
    return subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"RUSTPATH_LIMITS": '{"word_totl": {"python": {"text": 10}}}'},
            "Error: flask-rustpath: RUSTPATH_LIMITS names kernel 'word_totl', which the app "
            "does not have; did you mean 'word_total'?",
        ),
        (
            {"RUSTPATH_BACKNED": "python"},
            "Error: flask-rustpath: unknown setting RUSTPATH_BACKNED; did you mean "
            "RUSTPATH_BACKEND?",
        ),
        (
            {"RUSTPATH_LIMITS": '{"word_total": {"python": {"text": 2.5}}}'},
            "Error: flask-rustpath: limit for 'text' on the python side of 'word_total' is a "
            "length, a whole number from 0; got 2.5",
        ),
    ],
)
def test_a_settings_error_in_the_cli_is_one_line_with_exit_2(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = flask_cli(tmp_path, "rustpath", "routes", **env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == message
    assert done.stdout == ""


def test_the_cli_runs_on_good_settings(tmp_path: Path) -> None:
    done = flask_cli(
        tmp_path, "rustpath", "routes", RUSTPATH_LIMITS='{"word_total": {"python": {"text": 9}}}'
    )
    assert done.returncode == 0, done.stderr
    assert "word_total" in done.stdout
