from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_rustpath.crates import autobuild
from flask_rustpath.demo import create_app

# The rustpath_parity fixture. The plugin is not registered on install: a project
# opts in, here or with `-p flask_rustpath.testing`.
pytest_plugins = ["flask_rustpath.testing"]


@pytest.fixture
def app() -> Flask:
    return create_app({"TESTING": True})


@pytest.fixture
def shop_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The realistic app (tests/apps/shop.py) on its own database, which any server a
    test starts from this process shares (the user is seeded here)."""
    from tests.apps import shop

    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    return shop.create_app({"TESTING": True})


@pytest.fixture(scope="session")
def image() -> str:
    """This checkout's Docker image, built with podman once per session for every test
    that runs it (tests/images.py); skipped without podman, failed under CI."""
    from tests.images import build_image

    return build_image()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(autouse=True)
def no_import_hook_left_behind() -> Iterator[None]:
    """An app in debug mode installs maturin's import hook for the whole process, as in
    development; a test that made one does not leave the hook to the tests after it."""
    before = autobuild._autobuild_importer
    yield
    if before is None and autobuild._autobuild_importer is not None:
        autobuild.disable_autobuild()
