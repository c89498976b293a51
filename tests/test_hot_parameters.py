"""The JSON shorthand gives a kernel only what its signature promises, or a 400 naming
the parameter: never a 500, never a value a limit cannot compare."""

from __future__ import annotations

import math

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_rustpath import RustPath


def twice(x: float) -> float:
    return 2 * x


def total(xs: list[int], weights: dict[str, float] | None = None) -> float:
    return sum(xs) + sum((weights or {}).values())


def maybe(n: int | None = None) -> int:
    return -1 if n is None else n


@pytest.fixture
def client() -> FlaskClient:
    app = Flask(__name__)
    rustpath = RustPath(app)
    methods = ["GET", "POST"]
    rustpath.hot("/twice", rust=twice, methods=methods, limits={"rust": {"x": 100.0}})(twice)
    rustpath.hot("/total", rust=total, methods=methods)(total)
    rustpath.hot("/maybe", rust=maybe, methods=methods)(maybe)
    return app.test_client()


def _refused(response: object, parameter: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert body["error"] == "invalid_parameter"
    assert body["parameter"] == parameter


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1" + "0" * 400])
def test_non_finite_or_huge_json_numbers_are_refused_for_a_float(
    client: FlaskClient, raw: str
) -> None:
    response = client.post("/twice", data='{"x": ' + raw + "}", content_type="application/json")
    _refused(response, "x")


@pytest.mark.parametrize("raw", ["nan", "inf", "1e999", "١٢"])
def test_non_finite_or_non_ascii_text_numbers_are_refused(client: FlaskClient, raw: str) -> None:
    _refused(client.get("/twice", query_string={"x": raw}), "x")


def test_a_limit_still_applies_to_a_number_that_parses(client: FlaskClient) -> None:
    assert client.get("/twice?x=3").get_json() == {"result": 6.0}
    response = client.post("/twice", json={"x": 101})
    assert response.status_code == 422


def test_a_nan_above_no_limit_is_refused_by_the_limit_check_itself() -> None:
    from flask_rustpath.core.calling import check_limits
    from flask_rustpath.core.errors import LimitExceeded
    from flask_rustpath.core.kernel import Kernel

    kernel = Kernel(twice, rust=twice)
    with pytest.raises(LimitExceeded):
        check_limits(kernel, "rust", {"x": math.nan}, {"x": 100.0})


@pytest.mark.parametrize(
    "body",
    [
        {"xs": ["a", None]},
        {"xs": [1, 2.5]},
        {"xs": [True]},
        {"xs": "12"},
        {"xs": [1], "weights": {"a": "b"}},
    ],
)
def test_item_types_of_lists_and_dicts_are_checked(client: FlaskClient, body: dict) -> None:
    response = client.post("/total", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_parameter"


def test_well_typed_lists_and_dicts_reach_the_kernel(client: FlaskClient) -> None:
    response = client.post("/total", json={"xs": [1, 2], "weights": {"a": 0.5}})
    assert response.get_json() == {"result": 3.5}
    assert client.post("/total", json={"xs": [], "weights": None}).get_json() == {"result": 0}


def test_an_optional_parameter_may_be_given_omitted_or_null(client: FlaskClient) -> None:
    assert client.get("/maybe?n=5").get_json() == {"result": 5}
    assert client.get("/maybe").get_json() == {"result": -1}
    assert client.post("/maybe", json={"n": None}).get_json() == {"result": -1}
    assert client.post("/maybe", json={"n": 7}).get_json() == {"result": 7}
    _refused(client.get("/maybe?n=x"), "n")
