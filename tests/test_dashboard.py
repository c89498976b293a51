"""The dashboard at ``<RUSTPATH_URL_PREFIX>/``: kernels, live counts and compare forms through
the test client, the chart's geometry, and the real page in headless Chromium, which also
takes the documentation's screenshot of it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import threading
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from flask_rustpath.dashboard import KERNEL_FIELD, bar_chart, format_ms
from flask_rustpath.demo import create_app
from flask_rustpath.state import get_state

from . import support
from .apps import tools

NUMBER_MS = re.compile(r"^\d[\d,]*(\.\d+)? ms$")

ROOT = Path(__file__).resolve().parent.parent
# The documentation's (and the README's) picture of the dashboard, taken by the browser
# test below. It is committed, with the digest of the template it shows beside it: a
# change to the template fails test_the_docs_screenshot_shows_the_current_template
# until the picture is taken again with RETAKE.
SCREENSHOT = ROOT / "docs" / "_static" / "dashboard.png"
SCREENSHOT_SOURCE = SCREENSHOT.with_name("dashboard.png.source")
TEMPLATE = ROOT / "flask_rustpath" / "templates" / "rustpath" / "dashboard.html"
RETAKE = "DOCS_SCREENSHOT=update python -m pytest tests/test_dashboard.py -k real_browser"
WINDOW = (1280, 1000)


def template_digest() -> str:
    digest = hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()
    return f"{digest}  {TEMPLATE.relative_to(ROOT)}\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_docs_screenshot_shows_the_current_template() -> None:
    width, height = png_size(SCREENSHOT.read_bytes())
    assert width == WINDOW[0] and 600 < height <= WINDOW[1]  # the viewport of WINDOW
    assert SCREENSHOT_SOURCE.read_text() == template_digest(), (
        f"the dashboard's template changed since its screenshot was taken: {RETAKE}"
    )


def dashboard_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The demo app with the dashboard switched on."""
    return create_app({"TESTING": True, "RUSTPATH_COMPARE": True, **(config or {})})


@pytest.fixture
def dashboard() -> FlaskClient:
    return dashboard_app().test_client()


@pytest.fixture
def tools_client() -> FlaskClient:
    return tools.create_app().test_client()


class _Page(HTMLParser):
    """Collects the text of every ``data-cell`` element, keyed by its row's ``data-kernel``
    (or ``data-view``), and the attributes of every element, so tests do not depend on
    the markup's layout."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._row = ""
        self._open: list[tuple[str, str]] = []  # (tag, cell) of open data-cell elements
        self._text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "br":  # a line break separates words; <wbr> does not
            self.handle_data(" ")
        if tag == "tr" and ("data-kernel" in attributes or "data-view" in attributes):
            self._row = attributes.get("data-kernel") or attributes["data-view"]
        if "data-cell" in attributes:
            self._open.append((tag, attributes["data-cell"]))
            self._text[attributes["data-cell"]] = []

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, cell = self._open.pop()
            text = " ".join("".join(self._text.pop(cell)).split())
            self.cells[self._row, cell] = text

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
    found = re.search(r'<div id="result".*?<p class="message"[^>]*>(.*?)</p>', html, re.S)
    assert found is not None, "the page shows no error message"
    return found[1]


def compare(client: FlaskClient, kernel: str, **arguments: str) -> tuple[int, str]:
    response = client.get("/rustpath/", query_string={KERNEL_FIELD: kernel, **arguments})
    return response.status_code, response.get_data(as_text=True)


# -- switched on and off ---------------------------------------------------------------


def test_dashboard_is_404_when_compare_is_off() -> None:
    app = dashboard_app({"RUSTPATH_COMPARE": None})  # None: only in debug mode
    response = app.test_client().get("/rustpath/")
    assert response.status_code == 404
    assert response.json["error"] == "not_enabled"
    assert (
        dashboard_app({"RUSTPATH_COMPARE": False, "DEBUG": True})
        .test_client()
        .get("/rustpath/")
        .status_code
        == 404
    )


def test_dashboard_is_on_in_debug_mode_by_default() -> None:
    app = dashboard_app({"RUSTPATH_COMPARE": None, "DEBUG": True})
    assert app.test_client().get("/rustpath/").status_code == 200


def test_dashboard_follows_the_url_prefix() -> None:
    app = dashboard_app({"RUSTPATH_URL_PREFIX": "/ops/rp/"})
    client = app.test_client()
    assert client.get("/ops/rp/").status_code == 200
    assert client.get("/rustpath/").status_code == 404


# -- the kernel table ------------------------------------------------------------------


def test_page_lists_every_kernel_with_its_sides_backend_and_live_counts(tools_client) -> None:
    tools_client.get("/rust/blog/stats/3")
    tools_client.get("/rust/blog/stats/4")
    tools_client.get("/blog/stats/5")  # the plain URL: the backend, rust
    tools_client.get("/python/blog/stats/6")
    tools_client.application.config["PROPAGATE_EXCEPTIONS"] = False  # a 500, not a raise
    failed = tools_client.post("/python/blog/shout", json={"text": 5})  # 5.upper()
    assert failed.status_code == 500
    response = tools_client.get("/rustpath/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = parse(response.get_data(as_text=True))
    names = {a["data-kernel"] for a in page.find("tr") if "data-kernel" in a}
    assert names == set(get_state(tools_client.application).kernels)
    cells = page.cells
    assert cells["triple", "name"] == "triple"
    assert cells["triple", "python"] == "tests.apps.tools:create_app.<locals>.triple"
    assert cells["triple", "rust"] == "tests.apps.tools:create_app.<locals>.<lambda>"
    assert cells["triple", "imports"] == "imports"
    assert cells["triple", "backend"] == "rust"
    assert cells["triple", "rust-requests"] == "3"
    assert cells["triple", "rust-errors"] == "0"
    assert NUMBER_MS.match(cells["triple", "rust-mean"])
    assert cells["triple", "python-requests"] == "1"
    assert cells["shout", "python-requests"] == "1"
    assert cells["shout", "python-errors"] == "1"
    assert page.find("td", data_cell="python-errors", title="AttributeError: 1")
    assert cells["shout", "python-mean"] == "—"
    assert cells["shout", "route"] == "/shout/<text>"  # the JSON route that calls it
    assert cells["length", "rust-requests"] == "0"


def test_page_lists_paired_views_with_their_variants(tools_client) -> None:
    cells = parse(tools_client.get("/rustpath/").get_data(as_text=True)).cells
    assert cells["blog.stats", "view-rule"] == "/blog/stats/<int:post_id>"
    assert cells["blog.stats", "view-python"] == "/python/blog/stats/<int:post_id>"
    assert cells["blog.stats", "view-rust"] == "/rust/blog/stats/<int:post_id>"
    assert ("hello", "view-rule") not in cells


def test_compare_forms_follow_the_parameter_annotations(tools_client) -> None:
    page = parse(tools_client.get("/rustpath/").get_data(as_text=True))
    forms = {a["data-kernel"] for a in page.find("form")}
    assert forms == set(get_state(tools_client.application).kernels)
    [x] = page.find("input", name="x")
    assert x["value"] == "7"  # the kernel's first example
    assert x["data-kind"] == "int" and x["inputmode"] == "decimal" and "required" in x
    [items] = page.find("input", name="items")
    assert items["data-kind"] == "list[int] as JSON" and "required" in items
    [scale] = page.find("input", name="scale")
    assert scale["value"] == "1" and "required" not in scale  # its default
    [flag] = page.find("input", name="flag")
    assert flag["data-kind"] == "bool" and "inputmode" not in flag
    assert page.find("input", name=KERNEL_FIELD, value="triple", type="hidden")


def test_page_shows_shadow_outcomes() -> None:
    app = dashboard_app(
        {
            "RUSTPATH_BACKEND": "shadow",
            "RUSTPATH_SHADOW_RATE": 1.0,
            "RUSTPATH_SHADOW_RAISE": True,  # inline, so the count is there at once
        }
    )
    client = app.test_client()
    assert client.get("/sum_of_primes/100").status_code == 200
    cells = parse(client.get("/rustpath/").get_data(as_text=True)).cells
    assert cells["sum_of_primes", "shadow"] == "match 1"
    assert cells["sum_of_primes", "backend"] == "shadow 100% compared"
    assert cells["sum_of_primes_sieve", "shadow"] == "none"


def test_a_rust_target_that_does_not_import_is_shown_with_its_reason(tools_client) -> None:
    app = tools_client.application
    with app.app_context():
        assert get_state(app).kernels["bounded"](3) == 3  # falls back to Python
    html = tools_client.get("/rustpath/").get_data(as_text=True)
    cells = parse(html).cells
    assert cells["bounded", "imports"] == "does not import"
    assert "No module named" in html
    assert "Python answers" in cells["bounded", "backend"]
    assert cells["bounded", "fallbacks"] == "1 fell back to Python"
    assert ("triple", "fallbacks") not in cells
    status, html = compare(tools_client, "bounded", n="1")
    assert status == 200  # the page worked; the Rust side did not
    assert "is unavailable" in message(html)
    assert "HTTP 503" in html


# -- running a comparison --------------------------------------------------------------


def test_a_comparison_renders_a_bar_chart_with_both_sides(dashboard) -> None:
    status, html = compare(dashboard, "sum_of_primes", n="10000")
    assert status == 200
    page = parse(html)
    [result] = page.find("div", id="result")
    assert result["data-match"] == "true" and result["data-kernel"] == "sum_of_primes"
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


def test_a_comparison_is_not_counted_as_calls(dashboard) -> None:
    compare(dashboard, "sum_of_primes", n="100")
    cells = parse(dashboard.get("/rustpath/").get_data(as_text=True)).cells
    assert cells["sum_of_primes", "rust-requests"] == "0"
    assert cells["sum_of_primes", "python-requests"] == "0"


def test_a_mismatch_is_shown(tools_client) -> None:
    status, html = compare(tools_client, "triple", x="600")
    assert status == 200
    [result] = parse(html).find("div", id="result")
    assert result["data-match"] == "false"
    assert "results differ" in html
    _, html = compare(tools_client, "triple", x="6")
    assert parse(html).find("div", id="result")[0]["data-match"] == "true"


def test_arguments_are_converted_by_their_annotations(tools_client) -> None:
    status, html = compare(tools_client, "total", items="[1, 2, 3]", scale="2")
    assert status == 200
    assert "total(items=[1, 2, 3], scale=2)" in html
    assert "<dd><code>12</code></dd>" in html
    status, html = compare(tools_client, "signed", flag="false", ratio="2.5")
    assert status == 200 and "signed(flag=False, ratio=2.5)" in html
    status, html = compare(tools_client, "shout", text="a b/c")
    assert status == 200 and "&#39;A B/C&#39;" in html


@pytest.mark.parametrize(
    ("kernel", "arguments", "expected"),
    [
        ("triple", {"x": "abc"}, "parameter 'x' must be int"),
        ("triple", {"x": ""}, "parameter 'x' must be int"),
        ("triple", {"x": "1.5"}, "parameter 'x' must be int"),
        ("triple", {}, "missing parameter 'x'"),
        ("total", {"items": "[1,"}, "parameter 'items' must be JSON for list"),
        ("total", {"items": '{"a": 1}'}, "parameter 'items' must be list"),
        ("signed", {"flag": "maybe", "ratio": "1"}, "parameter 'flag' must be bool"),
        ("signed", {"flag": "true", "ratio": "nan"}, "parameter 'ratio' must be float"),
        ("nope", {"x": "1"}, "there is no kernel named 'nope'"),
    ],
)
def test_invalid_input_gets_a_readable_message_and_a_400(
    tools_client, kernel: str, arguments: dict[str, str], expected: str
) -> None:
    status, html = compare(tools_client, kernel, **arguments)
    assert status == 400
    assert expected.replace("'", "&#39;") in message(html)
    assert '<table id="kernels">' in html  # the rest of the page is still there
    assert "<svg" not in html


def test_a_limit_is_honoured_with_its_status_and_message(dashboard) -> None:
    status, html = compare(dashboard, "sum_of_primes", n="1000001")
    assert status == 422
    assert "n=1000001 is above the python limit of 1000000" in message(html)
    assert "HTTP 422" in html and "limit_exceeded" in html


def test_submitted_text_is_escaped(dashboard) -> None:
    evil = "<script>alert(1)</script>"
    status, html = compare(dashboard, "sum_of_primes", n=evil)
    assert status == 400
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    status, html = compare(dashboard, evil)
    assert status == 400 and "<script>" not in html


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
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    # An explicit driver path, so Selenium Manager downloads nothing.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(live_server + "/rustpath/")
        rows = driver.find_elements(By.CSS_SELECTOR, "table#kernels tbody tr")
        names = {row.get_attribute("data-kernel") for row in rows}
        assert {"sum_of_primes", "sum_of_primes_sieve"} <= names
        assert "/sum_of_primes/<int:n>" in driver.find_element(By.ID, "kernels").text
        assert "/rust/sum_of_primes/<int:n>" in driver.find_element(By.ID, "views").text

        form = driver.find_element(By.CSS_SELECTOR, 'form[data-kernel="sum_of_primes"]')
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
        driver.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / "dashboard.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    width, height = png_size(shot.read_bytes())
    assert width == WINDOW[0] and 600 < height <= WINDOW[1]
    if os.environ.get("DOCS_SCREENSHOT") == "update":
        shutil.copyfile(shot, SCREENSHOT)
        SCREENSHOT_SOURCE.write_text(template_digest())


def test_docstrings_and_rules_show_as_the_app_serves_them(dashboard: FlaskClient) -> None:
    """reST in a docstring is rendered (``n`` as code), and a built-in route shows the rule
    its URLs are under, with the blueprint's prefix."""
    page = dashboard.get("/rustpath/").get_data(as_text=True)
    assert "``" not in page
    assert "below <code>n</code>" in page
    cells = re.findall(r'<code data-cell="route">([^<]+)</code>', page)
    assert "/rustpath/sum_of_primes/&lt;int:n&gt;" in cells
    assert "/sum_of_primes/&lt;int:n&gt;" in cells
