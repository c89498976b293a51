"""The compare endpoint on a real app's kernels (#21, item 6): list and dict arguments as
JSON (POST), and URL converters for a JSON route whose function has no annotations.

``tests.apps.shop``: an app factory calling ``init_app`` before its blueprints,
Flask-Login, Flask-WTF forms with CSRF; its words blueprint (imported after
``init_app``) declares ``longest_word`` (a list), ``word_score`` (a dict) and
``repeat_word`` (no annotations, on ``/words/repeat/<word>/<int:n>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from tests.apps import shop

URL = "/rustpath/compare/"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    return shop.create_app({"TESTING": True, "RUSTPATH_COMPARE": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Logged in: the shop guards compare with its login (RUSTPATH_DASHBOARD_DECORATOR)."""
    client = app.test_client()
    shop.log_in(client)
    return client


def compared(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


# -- lists and dicts ---------------------------------------------------------------------


def test_a_list_argument_as_a_json_post(client: FlaskClient) -> None:
    body = compared(client.post(URL + "longest_word", json={"items": ["a", "ccc", "bb"]}))
    assert body["args"] == {"items": ["a", "ccc", "bb"]}
    assert body["python"]["result"] == body["rust"]["result"] == "ccc"
    assert body["match"] is True


def test_a_list_argument_as_json_text_in_the_query(client: FlaskClient) -> None:
    body = compared(client.get(URL + "longest_word", query_string={"items": '["dd", "e"]'}))
    assert body["python"]["result"] == "dd"


def test_a_dict_argument_as_a_json_post(client: FlaskClient) -> None:
    arguments = {"text": "a fine fine day", "weights": {"fine": 2, "day": 1}}
    body = compared(client.post(URL + "word_score", json=arguments))
    assert body["args"] == arguments
    assert body["python"]["result"] == body["rust"]["result"] == 5


def test_a_post_form_mixes_text_and_json(client: FlaskClient) -> None:
    form = {"text": "a day", "weights": '{"day": 7}'}
    assert compared(client.post(URL + "word_score", data=form))["python"]["result"] == 7


@pytest.mark.parametrize(
    ("send", "message"),
    [
        ({"json": {"items": "not a list"}}, "parameter 'items' must be list"),
        ({"json": {"items": [1, 2]}}, "parameter 'items' must be list"),  # list[str]
        ({"json": ["a", "b"]}, "the request body must be a JSON object of arguments"),
        ({"query_string": {"items": "[unclosed"}}, "parameter 'items' must be JSON for list"),
        ({"json": {}}, "missing parameter 'items'"),
    ],
)
def test_arguments_that_do_not_fit_are_a_json_400(
    client: FlaskClient, send: dict[str, Any], message: str
) -> None:
    response = client.post(URL + "longest_word", **send)
    assert response.status_code == 400
    assert response.is_json and response.get_json()["message"] == message


def test_the_python_limit_applies_to_a_posted_list(client: FlaskClient) -> None:
    from tests.apps.shop_words import LIST_LIMIT

    response = client.post(URL + "longest_word", json={"items": ["w"] * (LIST_LIMIT + 1)})
    assert response.status_code == 422
    assert response.get_json()["error"] == "limit_exceeded"


# -- URL converters of a route without annotations -----------------------------------------


def test_the_route_itself_gets_an_int_from_its_converter(client: FlaskClient) -> None:
    assert client.get("/words/repeat/ab/3").get_json() == {"result": "ababab"}


@pytest.mark.parametrize(
    "send",
    [
        {"query_string": {"word": "ab", "n": "3"}},
        {"json": {"word": "ab", "n": "3"}},  # text in JSON, converted as in the URL
        {"json": {"word": "ab", "n": 3}},
        {"data": {"word": "ab", "n": "3"}},
    ],
    ids=["query", "json text", "json number", "form"],
)
def test_compare_converts_by_the_routes_converter(
    client: FlaskClient, send: dict[str, Any]
) -> None:
    method = client.get if "query_string" in send else client.post
    body = compared(method(URL + "repeat_word", **send))
    assert body["args"] == {"word": "ab", "n": 3}
    assert body["python"]["result"] == body["rust"]["result"] == "ababab"


def test_text_the_converter_refuses_is_a_400_naming_the_rule(client: FlaskClient) -> None:
    response = client.get(URL + "repeat_word", query_string={"word": "ab", "n": "three"})
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "parameter 'n' must fit /words/repeat/<word>/<int:n>; got 'three'"
    )


def test_the_dashboard_form_converts_the_same_way(client: FlaskClient) -> None:
    page = client.get("/rustpath/", query_string={"compare-kernel": "repeat_word",
                                                  "word": "xy", "n": "2"})  # fmt: skip
    assert page.status_code == 200
    assert "&#39;xyxy&#39;" in page.get_data(as_text=True)


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["rustpath", *args])


def test_flask_rustpath_compare_converts_the_same_way(app: Flask) -> None:
    result = run(app, "compare", "repeat_word", "ab", "3")
    assert result.exit_code == 0, result.output
    assert "'ababab'" in result.output and "match   yes" in result.output
    result = run(app, "compare", "word_score", "a b b", '{"b": 4}')
    assert result.exit_code == 0, result.output
    assert "8" in result.output
