"""The dashboard on a real app (#21, item 5): every worker's counts, behind the app's own
auth in production, and its hidden answer kept from the app's 404 page.

``tests.apps.shop``: an app factory calling ``init_app`` before its blueprints,
Flask-Login, Flask-WTF with CSRF, its own ``@app.errorhandler(404)`` page, and
``RUSTPATH_DASHBOARD_DECORATOR = login_required``.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, abort
from flask_login import current_user

from flask_rustpath.core.errors import Misconfigured
from flask_rustpath.support.metrics import FLUSH_SECONDS
from tests.apps import shop
from tests.apps.shop_words import RUST_ALPHANUMERIC

from .servers import gunicorn, request

HIDDEN = "the compare endpoints are off; set RUSTPATH_COMPARE = True"


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "shop.sqlite"
    monkeypatch.setenv("SHOP_DATABASE", str(path))
    return path


def production(**config: Any) -> Flask:
    """The shop as deployed: not in debug mode, RUSTPATH_COMPARE left at None."""
    app = shop.create_app(config)
    assert not app.debug
    return app


def rust_calls(page: str, kernel: str) -> int:
    """The Rust calls the dashboard's counts table shows for ``kernel``."""
    table = page[page.index('<table id="counts">') :]
    row = re.search(rf'<tr data-kernel="{kernel}">(.*?)</tr>', table, re.S)
    assert row is not None, page
    cell = re.search(r'data-cell="rust-requests">(\d+)<', row.group(1))
    assert cell is not None
    return int(cell.group(1))


def shadow(page: str) -> dict[str, int]:
    """The shadow outcomes the counts table shows for text_letters."""
    table = page[page.index('<table id="counts">') :]
    row = re.search(
        r'<tr data-kernel="text_letters">.*?data-cell="shadow">(.*?)</td>', table, re.S
    )
    assert row is not None
    return {name: int(n) for name, n in re.findall(r"(\w+) (\d+)", row.group(1))}


# -- the hidden answer -------------------------------------------------------------------


def test_hidden_dashboard_keeps_its_message_past_the_apps_404_page() -> None:
    app = production(RUSTPATH_DASHBOARD_DECORATOR=None)
    client = app.test_client()
    assert "id=shop-404" in client.get("/no/such/page").get_data(as_text=True)  # the app's
    for url in ("/rustpath/", "/rustpath/compare/word_total?text=a"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_enabled", response.get_data(as_text=True)
        assert response.get_json()["message"].startswith(HIDDEN)


def test_compare_errors_keep_their_json_past_the_apps_404_page() -> None:
    client = production().test_client()
    shop.log_in(client)
    response = client.get("/rustpath/compare/no_such_kernel")
    assert response.status_code == 404
    assert response.get_json()["message"] == "no kernel named 'no_such_kernel'"


def test_off_means_off_for_logged_in_users_too() -> None:
    app = production(RUSTPATH_COMPARE=False)
    client = app.test_client()
    shop.log_in(client)
    response = client.get("/rustpath/")
    assert response.status_code == 404 and response.get_json()["error"] == "not_enabled"
    # and an anonymous user is told the same, not sent to a login page first
    assert app.test_client().get("/rustpath/").status_code == 404


# -- behind the app's own auth -------------------------------------------------------------


def test_guarded_dashboard_sends_anonymous_users_to_the_login_page() -> None:
    client = production().test_client()
    for url in ("/rustpath/", "/rustpath/compare/word_total?text=a"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")


def test_guarded_dashboard_answers_a_logged_in_user_in_production() -> None:
    client = production().test_client()
    shop.log_in(client)
    page = client.get("/rustpath/")
    assert page.status_code == 200
    assert 'data-kernel="text_letters"' in page.get_data(as_text=True)
    body = client.get("/rustpath/compare/word_total", query_string={"text": "a b"}).get_json()
    assert body["python"]["result"] == 2


def test_any_decorator_guards_it_an_admin_check_too() -> None:
    def admins_only(view: Any) -> Any:
        def guarded(**values: Any) -> Any:
            if not current_user.is_authenticated or current_user.name != "root":
                abort(403)
            return view(**values)

        return guarded

    client = production(RUSTPATH_DASHBOARD_DECORATOR=admins_only).test_client()
    shop.log_in(client)  # alice is no admin
    assert client.get("/rustpath/").status_code == 403


def test_the_decorator_setting_is_checked_at_init_app() -> None:
    with pytest.raises(Misconfigured, match="RUSTPATH_DASHBOARD_DECORATOR must be a view"):
        shop.create_app({"RUSTPATH_DASHBOARD_DECORATOR": "flask_login:login_required"})


# -- whose counts -------------------------------------------------------------------------


def test_without_multiprocess_metrics_the_page_says_its_counts_are_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    client = production().test_client()
    shop.log_in(client)
    assert client.post("/words/letters", json={"text": "abc"}).status_code == 200
    page = client.get("/rustpath/").get_data(as_text=True)
    assert 'data-scope="this-process"' in page
    assert rust_calls(page, "text_letters") == 1


COUNTS_SCRIPT = """
import json, sys
from flask_rustpath.support.metrics import Metrics, all_workers_counts
metrics = Metrics()
for event in [("k", "rust", 0.002, None), ("k", "rust", 0.004, None),
              ("k", "rust", None, "deadline_exceeded"), ("k", "python", None, "limit_exceeded")]:
    metrics.events.append(event)
metrics.shadow("k", "mismatch")
metrics.shadow("k", "mismatch")
metrics.shadow("k", "dropped")
metrics.fallback("k")
counts = all_workers_counts(metrics)
json.dump([counts.by_kernel, metrics.snapshot(), counts.all_workers, counts.processes], sys.stdout)
"""


def test_multiprocess_counts_read_back_as_the_in_process_snapshot(tmp_path: Path) -> None:
    """Errors by code, mean times, shadow outcomes and fallbacks, from the files
    (in a fresh interpreter: prometheus-client picks its multiprocess mode on import)."""
    from . import support

    out = support.run_python(
        ["-c", COUNTS_SCRIPT], env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    ).stdout
    from_files, snapshot, all_workers, processes = json.loads(out)
    assert (all_workers, processes) == (True, 1)
    assert from_files["k"]["rust"].pop("mean_ms") == pytest.approx(3.0)
    assert snapshot["k"]["rust"].pop("mean_ms") == pytest.approx(3.0)
    assert from_files == snapshot
    assert from_files["k"]["rust"] == {"requests": 3, "errors": {"deadline_exceeded": 1}}
    assert from_files["k"]["shadow"]["mismatch"] == 2 and from_files["k"]["fallbacks"] == 1


def _login_opener(base: str) -> urllib.request.OpenerDirector:
    """A client with a cookie jar, logged in through the form (and its CSRF token)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/auth/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    fields = {"username": "alice", "password": shop.PASSWORD, "csrf_token": token.group(1)}
    data = urllib.parse.urlencode(fields).encode()
    opener.open(base + "/auth/login", data=data, timeout=30).read()  # follows to a report
    assert any(cookie.name == "session" for cookie in jar)
    return opener


@pytest.mark.slow
def test_every_page_load_shows_every_workers_counts_under_gunicorn(tmp_path: Path) -> None:
    """Two gunicorn workers share the calls; each dashboard load, whichever worker
    answers it, shows them all (before, 2 of 3 loads showed one worker's)."""
    shop.create_app()  # seed the database before the workers start at once
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    env = {
        "GUNICORN_APP": "tests.apps.shop:create_app()",
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite"),
        # Shadow mode on the kernel with the Hindi bug: the mismatches.
        "RUSTPATH_BACKENDS": '{"text_letters": "shadow"}',
        "RUSTPATH_SHADOW_RATES": '{"text_letters": 1.0}',
    }
    text = "नमस्ते दुनिया"
    expected = sum(1 for c in text if RUST_ALPHANUMERIC.match(c))
    sent = 0
    with gunicorn(env=env) as base:

        def call(_: int) -> int:
            status, _, body = request(
                base,
                "/words/letters",
                data=json.dumps({"text": text}).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert json.loads(body) == {"result": expected}
            return status

        # Batches until both workers have counted calls (each writes its own file), at
        # most 10 batches of 20.
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(10):
                assert list(pool.map(call, range(20))) == [200] * 20
                sent += 20
                settle = time.monotonic() + 4 * FLUSH_SECONDS
                while len(list(metrics.glob("counter_*.db"))) < 2:
                    if time.monotonic() > settle:
                        break
                    time.sleep(FLUSH_SECONDS / 5)
                if len(list(metrics.glob("counter_*.db"))) >= 2:
                    break
        assert len(list(metrics.glob("counter_*.db"))) == 2

        # Production: the anonymous are sent to log in; alice sees the page.
        status, headers, _ = request(base, "/rustpath/")
        assert status == 302 and headers["Location"].startswith("/auth/login")
        opener = _login_opener(base)

        def load() -> str:
            with opener.open(base + "/rustpath/", timeout=30) as response:
                assert response.status == 200
                page: str = response.read().decode()
                return page

        def settled(page: str) -> bool:
            return rust_calls(page, "text_letters") == sent and sum(shadow(page).values()) == sent

        # Each worker writes its counts within 0.5 s; its shadow pool must start first.
        deadline = time.monotonic() + 60
        while not settled(load()) and time.monotonic() < deadline:
            time.sleep(FLUSH_SECONDS / 5)
        pages = [load() for _ in range(6)]  # on new connections: both workers answer
    assert [rust_calls(page, "text_letters") for page in pages] == [sent] * 6
    # every shadow comparison of both workers: mismatches (a few may be dropped while a
    # worker's pool starts, counted too)
    assert all(sum(shadow(page).values()) == sent for page in pages)
    assert all(shadow(page).get("mismatch", 0) > 0 for page in pages)
    assert all('data-scope="all-workers"' in page for page in pages)
    assert all("(2 wrote counts)" in page for page in pages)
