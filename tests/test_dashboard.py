"""The dashboard at ``<RUSTPATH_URL_PREFIX>/``: the page through the test client, the chart's
geometry, and the real page in a headless Chromium against a real server."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from flask_rustpath import RustPath
from flask_rustpath.dashboard import bar_chart, format_ms, register_dashboard
from flask_rustpath.demo import create_app
from flask_rustpath.state import get_state

from . import support

NUMBER_MS = re.compile(r"^\d[\d,]*(\.\d+)? ms$")


def dashboard_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The demo app with the dashboard; ``register_dashboard`` is a no-op once
    ``init_app`` registers it itself."""
    app = create_app({"TESTING": True, "RUSTPATH_COMPARE": True, **(config or {})})
    register_dashboard(app)
    return app


@pytest.fixture
def dashboard() -> FlaskClient:
    return dashboard_app().test_client()


class _Page(HTMLParser):
    """Collects the text of every ``data-cell`` element, keyed by its row's ``data-route``,
    and the attributes of every element, so tests do not depend on the markup's layout."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._route = ""
        self._open: list[tuple[str, str]] = []  # (tag, cell) of open data-cell elements
        self._text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "br":  # a line break separates words; <wbr> does not
            self.handle_data(" ")
        if tag == "tr" and "data-route" in attributes:
            self._route = attributes["data-route"]
        if "data-cell" in attributes:
            self._open.append((tag, attributes["data-cell"]))
            self._text[attributes["data-cell"]] = []

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, cell = self._open.pop()
            text = " ".join("".join(self._text.pop(cell)).split())
            self.cells[self._route, cell] = text

    def handle_data(self, data: str) -> None:
        for _, cell in self._open:
            self._text[cell].append(data)

    def find(self, tag: str, **attributes: str) -> list[dict[str, str]]:
        wanted = {k.replace("_", "-"): v for k, v in attributes.items()}
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k) == v for k, v in wanted.items())
        ]


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def message(html: str) -> str:
    found = re.search(r'<p class="message"[^>]*>(.*?)</p>', html, re.S)
    assert found is not None, "the page shows no error message"
    return found[1]


# -- switched on and off ---------------------------------------------------------------


def test_dashboard_is_404_when_compare_is_off() -> None:
    app = dashboard_app({"RUSTPATH_COMPARE": None})  # None: only in debug mode
    response = app.test_client().get("/rustpath/")
    assert response.status_code == 404
    assert response.json["error"] == "not_enabled"
    app.config["RUSTPATH_COMPARE"] = True  # read per request, like the compare endpoint
    assert app.test_client().get("/rustpath/").status_code == 200


def test_dashboard_is_on_in_debug_mode_by_default() -> None:
    app = dashboard_app({"RUSTPATH_COMPARE": None, "DEBUG": True})
    assert app.test_client().get("/rustpath/").status_code == 200


def test_dashboard_follows_the_url_prefix() -> None:
    app = dashboard_app({"RUSTPATH_URL_PREFIX": "/ops/rp/"})
    client = app.test_client()
    assert client.get("/ops/rp/").status_code == 200
    assert client.get("/rustpath/").status_code == 404


# -- the route table -------------------------------------------------------------------


def test_page_lists_every_route_with_its_sides_backend_and_counts(dashboard) -> None:
    dashboard.get("/rust/sum_of_primes/100")
    dashboard.get("/rust/sum_of_primes/1000")
    dashboard.get("/python/sum_of_primes/10")
    dashboard.get("/python/sum_of_primes/2000000")  # 422: counted as an error
    response = dashboard.get("/rustpath/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = parse(response.get_data(as_text=True))
    names = {a["data-route"] for a in page.find("tr") if "data-route" in a}
    assert names == set(get_state(dashboard.application).routes)
    other = sorted(names - {"sum_of_primes"})[0]
    cells = page.cells
    assert cells["sum_of_primes", "rule"] == "/sum_of_primes/<int:n>"
    assert cells["sum_of_primes", "python"] == "flask_rustpath.builtins:sum_of_primes"
    assert cells["sum_of_primes", "rust"] == "flask_rustpath._native:sum_of_primes"
    assert cells["sum_of_primes", "imports"] == "imports"
    assert cells["sum_of_primes", "backend"] == "rust"
    assert cells["sum_of_primes", "rust-requests"] == "2"
    assert cells["sum_of_primes", "rust-errors"] == "0"
    assert NUMBER_MS.match(cells["sum_of_primes", "rust-mean"])
    assert cells["sum_of_primes", "python-requests"] == "2"
    assert cells["sum_of_primes", "python-errors"] == "1"
    assert cells[other, "rust-mean"] == "—"
    # one GET form per route, with an input per rule variable, pre-filled from examples
    form = page.find("form", data_route="sum_of_primes")
    assert form and form[0]["method"] == "get"
    assert page.find("input", name="n", value="100000")


def test_page_shows_shadow_outcomes() -> None:
    app = dashboard_app({"RUSTPATH_BACKEND": "shadow", "RUSTPATH_SHADOW_RATE": 1.0})
    app.config["RUSTPATH_SHADOW_RAISE"] = True  # inline, so the count is there at once
    client = app.test_client()
    client.get("/sum_of_primes/100")
    cells = parse(client.get("/rustpath/").get_data(as_text=True)).cells
    assert cells["sum_of_primes", "shadow"] == "match 1"
    assert cells["sum_of_primes", "backend"] == "shadow 100% compared"


def test_a_broken_backend_setting_is_an_error_cell_not_a_500() -> None:
    app = dashboard_app()
    # validate() runs at init_app; a value changed afterwards is only seen per request
    app.config["RUSTPATH_BACKENDS"] = {"sum_of_primes": "fortran"}
    response = app.test_client().get("/rustpath/")
    assert response.status_code == 200
    cells = parse(response.get_data(as_text=True)).cells
    assert "must be one of" in cells["sum_of_primes", "backend"]
    assert "'fortran'" in cells["sum_of_primes", "backend"]
    others = set(get_state(app).routes) - {"sum_of_primes"}
    assert others and all(cells[name, "backend"] == "rust" for name in others)


def test_a_rust_target_that_does_not_import_is_shown_with_its_reason() -> None:
    app = Flask("broken_rust")
    app.config.update(RUSTPATH_COMPARE=True, RUSTPATH_BUILTINS=False)
    rustpath = RustPath(app)
    rustpath.hot("/gone/<int:x>", rust="no_such_module_here:f", name="gone")(lambda x: x)
    register_dashboard(app)
    client = app.test_client()
    page = client.get("/rustpath/").get_data(as_text=True)
    cells = parse(page).cells
    assert cells["gone", "imports"] == "does not import"
    assert "No module named" in page
    assert "Python answers" in cells["gone", "backend"]
    response = client.get("/rustpath/?hot-route=gone&x=1")
    assert response.status_code == 200  # the page worked; the Rust side did not
    html = response.get_data(as_text=True)
    assert "is unavailable" in message(html)
    assert "HTTP 503" in html


# -- running a comparison --------------------------------------------------------------


def test_a_comparison_renders_a_bar_chart_with_both_sides(dashboard) -> None:
    response = dashboard.get("/rustpath/?hot-route=sum_of_primes&n=10000")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = parse(html)
    [result] = page.find("div", id="result")
    assert result["data-match"] == "true"
    assert "sum_of_primes(n=10000)" in html
    assert "5736396" in html  # both results are shown
    assert len(page.find("svg")) == 1
    bars = {a["data-side"]: float(a["width"]) for a in page.find("rect") if "data-side" in a}
    assert set(bars) == {"python", "rust"}
    assert all(width > 0 for width in bars.values())
    for side in ("python", "rust"):
        label = re.search(rf'data-value="{side}"[^>]*>([^<]*)<', html)
        assert label is not None and NUMBER_MS.match(label[1])
    assert re.search(r"(Rust|Python) is [\d,.]+\u00d7 faster", html)
    assert "log scale" in html
    # the form keeps what was submitted
    assert page.find("input", name="n", value="10000")


def test_a_comparison_is_not_counted_as_requests(dashboard) -> None:
    dashboard.get("/rustpath/?hot-route=sum_of_primes&n=100")
    cells = parse(dashboard.get("/rustpath/").get_data(as_text=True)).cells
    assert cells["sum_of_primes", "rust-requests"] == "0"


def test_a_mismatch_is_shown() -> None:
    app = Flask("mismatch")
    app.config.update(RUSTPATH_COMPARE=True, RUSTPATH_BUILTINS=False)
    rustpath = RustPath(app)
    rustpath.hot("/inc/<int:x>", rust=lambda x: x + 2, name="inc")(lambda x: x + 1)
    register_dashboard(app)
    html = app.test_client().get("/rustpath/?hot-route=inc&x=1").get_data(as_text=True)
    [result] = parse(html).find("div", id="result")
    assert result["data-match"] == "false"
    assert "results differ" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hot-route=sum_of_primes&n=abc", "'abc' is not a valid value for n"),
        ("hot-route=sum_of_primes&n=-3", "'-3' is not a valid value for n"),
        ("hot-route=sum_of_primes&n=1/2", "'1/2' is not a valid value for n"),
        ("hot-route=sum_of_primes&n=", "missing argument(s) for /sum_of_primes/&lt;int:n&gt;: n"),
        ("hot-route=sum_of_primes", "missing argument(s) for /sum_of_primes/&lt;int:n&gt;: n"),
        ("hot-route=nope&n=1", "no hot route named 'nope'"),
    ],
)
def test_invalid_input_gets_a_readable_message_and_a_400(dashboard, query, expected) -> None:
    response = dashboard.get("/rustpath/?" + query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert expected.replace("'", "&#39;") in message(html)
    assert '<table id="routes">' in html  # the rest of the page is still there
    assert "<svg" not in html


def test_a_limit_is_honoured_with_its_status_and_message(dashboard) -> None:
    response = dashboard.get("/rustpath/?hot-route=sum_of_primes&n=1000001")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "n=1000001 is above the python limit of 1000000" in message(html)
    assert "HTTP 422" in html and "limit_exceeded" in html


def test_submitted_text_is_escaped(dashboard) -> None:
    evil = "<script>alert(1)</script>"
    response = dashboard.get("/rustpath/", query_string={"hot-route": "sum_of_primes", "n": evil})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    response = dashboard.get("/rustpath/", query_string={"hot-route": evil})
    assert "<script>" not in response.get_data(as_text=True)


def test_arguments_are_converted_as_the_url_map_would() -> None:
    app = Flask("converters")
    app.config.update(RUSTPATH_COMPARE=True, RUSTPATH_BUILTINS=False)
    rustpath = RustPath(app)
    rule = "/pick/<int(min=2):x>/<word>/<path:rest>"
    rustpath.hot(rule, rust=lambda x, word, rest: 0, name="pick")(lambda x, word, rest: 0)
    register_dashboard(app)
    client = app.test_client()

    def submit(**raw: str) -> tuple[int, str]:
        response = client.get("/rustpath/", query_string={"hot-route": "pick", **raw})
        return response.status_code, response.get_data(as_text=True)

    # decoded text, as a request's path reaches the converters: no percent-encoding
    status, html = submit(x="8", word="a b", rest="c/d e")
    assert status == 200
    assert "pick(x=8, word=&#39;a b&#39;, rest=&#39;c/d e&#39;)" in html
    status, html = submit(x="1", word="a", rest="b")  # below int(min=2)
    assert status == 400 and "&#39;1&#39; is not a valid value for x" in message(html)
    status, html = submit(x="2", word="a/b", rest="c")  # no slash in a plain segment
    assert status == 400 and "&#39;a/b&#39; is not a valid value for word" in message(html)


# -- the chart -------------------------------------------------------------------------


@pytest.mark.parametrize(("python_ms", "rust_ms"), [(100.0, 0.1), (2000.0, 0.002), (1.0, 1.0)])
def test_both_bars_stay_visible_on_the_log_axis(python_ms: float, rust_ms: float) -> None:
    chart = bar_chart(python_ms, rust_ms)
    python, rust = chart.bars
    assert (python.side, rust.side) == ("python", "rust")
    plot = chart.plot_right - chart.plot_left
    assert rust.width >= plot / 10  # at least one of at most ~9 decades
    assert python.width >= rust.width
    assert python.width <= plot
    assert "log scale" in chart.title


def test_a_zero_time_is_still_drawn() -> None:
    python, rust = bar_chart(5.0, 0.0).bars
    assert rust.width > 0 and rust.value == "0 ms"
    assert python.width > rust.width


def test_ticks_are_whole_decades_in_readable_units() -> None:
    labels = [tick.label for tick in bar_chart(100.0, 0.1).ticks]
    assert labels == ["10 µs", "100 µs", "1 ms", "10 ms", "100 ms"]
    xs = [tick.x for tick in bar_chart(100.0, 0.1).ticks]
    assert xs == sorted(xs)


def test_times_are_formatted_to_three_digits_without_e_notation() -> None:
    assert [format_ms(ms) for ms in (0.0000123, 0.0483, 1.5, 41.23, 12345.6)] == [
        "0.0000123 ms",
        "0.0483 ms",
        "1.50 ms",
        "41.2 ms",
        "12,346 ms",
    ]


# -- a real browser --------------------------------------------------------------------


@pytest.fixture
def chromium() -> tuple[str, str]:
    """Chromium and its driver, or skip; in CI (``CI=true``) a missing one is a failure,
    so a CI image that lost them cannot pass by skipping."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install selenium)")
    browser = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    driver = shutil.which("chromedriver")
    if browser is None:
        missing.append("chromium (apt-get install chromium)")
    if driver is None:
        missing.append("chromedriver (apt-get install chromium-driver)")
    if missing:
        support.missing("the browser test needs " + ", ".join(missing))
    assert browser is not None and driver is not None
    return browser, driver


@pytest.fixture
def live_server() -> Iterator[str]:
    """The demo app with the dashboard on a real threaded server on a loopback port."""
    app = dashboard_app({"TESTING": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.mark.slow
def test_dashboard_in_a_real_browser(
    chromium: tuple[str, str], live_server: str, tmp_path: Path
) -> None:
    browser, driver_path = chromium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--no-proxy-server",  # loopback only, whatever proxy the environment sets
        "--window-size=1280,1100",
    ):
        options.add_argument(argument)
    # An explicit driver path, so Selenium Manager downloads nothing.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(live_server + "/rustpath/")
        rows = driver.find_elements(By.CSS_SELECTOR, "table#routes tbody tr")
        names = {row.get_attribute("data-route") for row in rows}
        assert "sum_of_primes" in names
        assert "/sum_of_primes/<int:n>" in driver.find_element(By.ID, "routes").text

        form = driver.find_element(By.CSS_SELECTOR, 'form[data-route="sum_of_primes"]')
        field = form.find_element(By.NAME, "n")
        field.clear()
        field.send_keys("100000")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        wait = WebDriverWait(driver, 60)
        rust = wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, 'svg rect[data-side="rust"]'))
        )
        python = driver.find_element(By.CSS_SELECTOR, 'svg rect[data-side="python"]')
        assert "n=100000" in driver.current_url
        for bar in (python, rust):
            assert bar.size["width"] > 0 and bar.size["height"] > 0  # as laid out
            assert float(bar.get_attribute("width")) > 0
        assert python.size["width"] > rust.size["width"]
        for side in ("python", "rust"):
            label = driver.find_element(By.CSS_SELECTOR, f'svg text[data-value="{side}"]')
            assert NUMBER_MS.match(label.text), label.text
        result = driver.find_element(By.ID, "result")
        assert result.get_attribute("data-match") == "true"
        assert "faster" in result.text and "454396537" in result.text
        driver.save_screenshot(str(tmp_path / "dashboard.png"))
    finally:
        driver.quit()
