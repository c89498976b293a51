"""Browsing a side of a logged-in, factory-built app (#21, item 4): login on every
page, CSRF on every form. A user who opens ``/rust/…`` stays on ``/rust``: through the
login redirect and back, on the page's links, and on its form's post."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask

from tests.apps import shop
from tests.support import csrf_token

PAGE = "/reports/primes/10"


@pytest.fixture
def app(shop_app: Flask) -> Flask:
    return shop_app


@pytest.mark.parametrize("prefix", ["", "/python", "/rust"])
def test_a_user_who_opens_a_side_stays_on_it(app: Flask, prefix: str) -> None:
    client = app.test_client()
    # Anonymous: Flask-Login sends the user to log in, and back to the URL asked for.
    to_login = client.get(prefix + PAGE)
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    assert unquote(login_url).endswith(f"next={prefix}{PAGE}")
    token = csrf_token(client.get(login_url).data)
    back = client.post(login_url, data={"username": "alice", "password": shop.PASSWORD,
                                        "csrf_token": token})  # fmt: skip
    assert back.headers["Location"] == prefix + PAGE
    # The page: its side's kernel, and its links on the same side.
    page = client.get(prefix + PAGE)
    assert page.headers["X-RustPath-Backend"] == (prefix.strip("/") or "rust")
    assert f'<a id=next href="{prefix}/reports/primes/11">' in page.text
    # Its form posts to the URL it was served from, with its CSRF token: same side.
    posted = client.post(prefix + PAGE, data={"n": 20, "csrf_token": csrf_token(page.data)})
    assert posted.status_code == 200
    assert "<h1>Primes below 20</h1>" in posted.text
    assert posted.headers["X-RustPath-Backend"] == (prefix.strip("/") or "rust")


def test_keep_side_off_builds_plain_links_on_a_side(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    app = shop.create_app({"TESTING": True, "RUSTPATH_KEEP_SIDE": False})
    client = app.test_client()
    token = csrf_token(client.get("/auth/login").data)
    client.post("/auth/login", data={"username": "alice", "password": shop.PASSWORD,
                                     "csrf_token": token})  # fmt: skip
    page = client.get("/rust" + PAGE)
    assert page.headers["X-RustPath-Backend"] == "rust"
    assert '<a id=next href="/reports/primes/11">' in page.text
