"""The demo app: baseline routes, the index page and its links, settings from the environment."""

from __future__ import annotations

import re

from flask_rustpath.demo import create_app

from . import support


def test_hello_and_healthz(client) -> None:
    assert client.get("/hello").get_data(as_text=True) == "Hello, World!"
    assert client.get("/healthz").json == {"status": "ok"}


def test_index_links_every_side_of_every_hot_route(client) -> None:
    page = client.get("/").get_data(as_text=True)
    links = re.findall(r'href="([^"]+)"', page)
    assert {
        "/python/sum_of_primes/100000",
        "/rust/sum_of_primes/100000",
        "/sum_of_primes/100000",
        "/python/rustpath/sum_of_primes/100000",
        "/rust/rustpath/sum_of_primes/100000",
        "/rustpath/sum_of_primes/100000",
        "/python/sieve/sum_of_primes/1000000",
        "/rust/sieve/sum_of_primes/1000000",
        "/sieve/sum_of_primes/1000000",
    } <= set(links)
    for link in links:
        assert client.get(link).status_code == 200, link


def test_index_shows_each_routes_real_rule_and_rendered_docs(client) -> None:
    """The built-in route lives under the extension's blueprint: the index shows the rule
    its URLs are under, and docstrings' reST as HTML, not as markup."""
    page = client.get("/").get_data(as_text=True)
    rows = {
        name: row
        for name, row in re.findall(r"<strong>([^<]+)</strong>(.*?)</tr>", page, flags=re.S)
    }
    assert "<code>/rustpath/sum_of_primes/&lt;int:n&gt;</code>" in rows["rustpath.sum_of_primes"]
    assert "<code>/sum_of_primes/&lt;int:n&gt;</code>" in rows["sum_of_primes"]
    assert "<code>/sieve/sum_of_primes/&lt;int:n&gt;</code>" in rows["sum_of_primes_sieve"]
    assert "``" not in page and ":func:" not in page
    assert "below <code>n</code>" in rows["sum_of_primes"]


def test_the_demo_serves_the_builtins_and_the_blogs_urls(client) -> None:
    for path in ("/sum_of_primes/10", "/rustpath/sum_of_primes/10"):
        for prefix in ("", "/python", "/rust"):
            assert client.get(prefix + path).json == {"result": 17}, prefix + path


def test_settings_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RUSTPATH_BACKEND", "python")
    monkeypatch.setenv("RUSTPATH_BUILTINS", "false")
    monkeypatch.setenv("RUSTPATH_LIMITS", '{"sum_of_primes": {"python": {"n": 50}}}')
    app = create_app({"TESTING": True})
    assert app.config["RUSTPATH_BACKEND"] == "python"
    assert app.config["RUSTPATH_BUILTINS"] is False
    assert app.config["RUSTPATH_LIMITS"] == {"sum_of_primes": {"python": {"n": 50}}}
    client = app.test_client()
    assert client.get("/sum_of_primes/10").headers["X-RustPath-Backend"] == "python"
    assert client.get("/sum_of_primes/51").json["limit"] == 50
    # The built-ins are off when the environment says so, the blog's URL stays.
    assert client.get("/rustpath/sum_of_primes/10").status_code == 404
    assert client.get("/rust/sum_of_primes/10").json == {"result": 17}


def test_the_test_config_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RUSTPATH_BACKEND", "python")
    client = create_app({"TESTING": True, "RUSTPATH_BACKEND": "rust"}).test_client()
    assert client.get("/sum_of_primes/10").headers["X-RustPath-Backend"] == "rust"


def flask_routes() -> set[tuple[str, str, str]]:
    out = support.run_python(["-m", "flask", "--app", "flask_rustpath.demo", "routes"])
    rows = set()
    for line in out.stdout.splitlines()[2:]:  # after the header and its rule
        # columns are two spaces or more apart; "GET, POST" has one
        endpoint, methods, rule = re.split(r"\s{2,}", line.strip())
        rows.add((endpoint, methods, rule))
    return rows


def test_flask_cli_sees_the_hot_routes() -> None:
    """Whole rows, so ``sum_of_primes`` cannot be matched by ``sum_of_primes_sieve``."""
    rows = flask_routes()
    assert {
        ("sum_of_primes", "GET", "/sum_of_primes/<int:n>"),
        ("rustpath.sum_of_primes", "GET", "/rustpath/sum_of_primes/<int:n>"),
        ("sum_of_primes_sieve", "GET", "/sieve/sum_of_primes/<int:n>"),
    } <= rows
    # The variants are a prefix on the same rule, not rules of their own.
    assert not [rule for _, _, rule in rows if rule.startswith(("/python", "/rust/"))]
