"""The demo app: baseline routes, the index page and its links, settings from the environment."""

from __future__ import annotations

import re
import subprocess
import sys

from flask_rustpath.demo import config_from_environ


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
    } <= set(links)
    for link in links:
        assert client.get(link).status_code == 200, link


def test_settings_from_the_environment() -> None:
    settings = config_from_environ(
        {
            "RUSTPATH_BACKEND": "python",
            "RUSTPATH_BUILTINS": "false",
            "RUSTPATH_LIMITS": '{"x": {}}',
            "HOME": "/",
        }
    )
    assert settings == {
        "RUSTPATH_BACKEND": "python",
        "RUSTPATH_BUILTINS": False,
        "RUSTPATH_LIMITS": {"x": {}},
    }


def test_flask_cli_sees_the_hot_routes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "flask_rustpath.demo", "routes"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Whole rows, not substrings: "rustpath.sum_of_primes" is also a prefix of the
    # sieve and numpy routes' endpoints.
    rows = out.stdout.splitlines()[2:]  # below the header and its underline
    routes = {tuple(row.split()) for row in rows}
    assert {
        ("rustpath.sum_of_primes", "GET", "/sum_of_primes/<int:n>"),
        ("rustpath.rust_sum_of_primes", "GET", "/rust/sum_of_primes/<int:n>"),
        ("rustpath.python_sum_of_primes", "GET", "/python/sum_of_primes/<int:n>"),
    } <= routes, out.stdout
