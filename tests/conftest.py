from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_rustpath.demo import create_app

# The rustpath_parity fixture. The plugin is not registered on install: a project
# opts in, here or with `-p flask_rustpath.testing`.
pytest_plugins = ["flask_rustpath.testing"]


@pytest.fixture
def app() -> Flask:
    return create_app({"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
