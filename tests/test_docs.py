"""The documentation is real: its Python examples run, the site builds with warnings as
errors, every ``RUSTPATH_*`` key of the code is on it, and its figures are the
committed benchmark's."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import support

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BENCH = ROOT / "bench"

# A key as the code spells it; not the tail of another name (FLASK_RUSTPATH_FRONT_PID).
KEY = re.compile(r"(?<![A-Z_])RUSTPATH_[A-Z_]*[A-Z]")
# A block is left out of the run by a MyST comment on the line right before its fence.
NOT_RUN = re.compile(r"^% not run: \S")


@dataclass(frozen=True)
class Example:
    page: Path
    line: int  # of the fence
    code: str
    run: bool

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def examples(page: Path) -> list[Example]:
    """The page's ```python blocks, in order; ``% not run: reason`` right before a fence
    marks that block as one that is not run (a fragment, or code of the reader's app)."""
    found = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            end = lines.index("```", index + 1)
            run = index == 0 or not NOT_RUN.match(lines[index - 1])
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(Example(page, index + 1, code, run))
            index = end
        index += 1
    return found


PAGES = sorted(DOCS.glob("*.md"))


def test_the_example_finder_sees_fences_and_marks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\n% not run: a fragment\n```python\ny\n```\n"
        "\n```console\n$ flask run\n```\n"
    )
    found = examples(page)
    assert [(e.line, e.code, e.run) for e in found] == [(3, "x = 1\n", True), (8, "y\n", False)]


def test_every_block_left_out_says_why() -> None:
    for page in PAGES:
        for line in page.read_text().splitlines():
            if line.startswith("% not run"):
                assert NOT_RUN.match(line), f"{page.name}: {line!r} gives no reason"


@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)], ids=lambda p: p.name)
def test_the_pages_python_examples_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's blocks run in order in one namespace, as a reader pastes them into one
    module: a later block may use what an earlier one defined."""
    for key in [k for k in os.environ if k.startswith("RUSTPATH_")]:
        monkeypatch.delenv(key)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    ran = 0
    for example in examples(page):
        if not example.run:
            continue
        code = compile("\n" * (example.line) + example.code, str(example.page), "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            raise AssertionError(f"the example at {example} fails: {exc!r}") from exc
        ran += 1
    assert ran or all(not e.run for e in examples(page))


def test_most_examples_run() -> None:
    """Leaving a block out is the exception: most of the docs' Python runs here."""
    every = [example for page in PAGES for example in examples(page)]
    assert every
    assert sum(e.run for e in every) >= 0.6 * len(every), [str(e) for e in every if not e.run]


def test_pages_name_only_settings_that_exist() -> None:
    """A key the docs name but init_app refuses would break a reader's app."""
    from flask_rustpath.core.config import PROCESS_SETTINGS, SETTINGS

    for page in [*PAGES, ROOT / "README.md"]:
        named = set(KEY.findall(page.read_text()))
        assert named - set(SETTINGS) - set(PROCESS_SETTINGS) == set(), page.name


def test_every_setting_has_a_type_and_a_meaning() -> None:
    from flask_rustpath.core.config import DEFAULTS, PROCESS_SETTINGS, SETTINGS

    assert dict(DEFAULTS) == {key: setting.default for key, setting in SETTINGS.items()}
    for key, setting in {**SETTINGS, **PROCESS_SETTINGS}.items():
        assert setting.type.strip() and len(setting.meaning) > 20, key
        assert setting.meaning.rstrip().endswith("."), key


def keys_in_the_code() -> set[str]:
    """Every ``RUSTPATH_*`` name the package's Python, Rust and templates spell."""
    found: set[str] = set()
    package = ROOT / "flask_rustpath"
    for pattern in ("**/*.py", "**/*.rs", "**/*.html"):
        for path in package.glob(pattern):
            found |= set(KEY.findall(path.read_text()))
    for path in (ROOT / "rust_src").glob("**/*.rs"):
        found |= set(KEY.findall(path.read_text()))
    return found


# -- the built site ------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The site, built as CI builds it: ``python -m sphinx -W -b html docs OUT``."""
    try:
        import furo  # noqa: F401
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
        import sphinx_click  # noqa: F401
    except ImportError as exc:
        support.missing(f"building the docs needs the docs extra ({exc.name} is missing)")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    yield out


def text_of(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text())


@pytest.mark.slow
def test_every_setting_in_the_code_is_on_the_site(site: Path) -> None:
    from flask_rustpath.core.config import PROCESS_SETTINGS, SETTINGS

    in_code = keys_in_the_code()
    assert set(SETTINGS) | set(PROCESS_SETTINGS) <= in_code
    page = (site / "configuration.html").read_text()
    for key in sorted(in_code):
        assert f'id="setting-{key}"' in page, f"{key} is not on the configuration page"


@pytest.mark.slow
def test_the_configuration_page_shows_each_default(site: Path) -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from rustpath_docs import literal
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    from flask_rustpath.core.config import SETTINGS

    page = (site / "configuration.html").read_text()
    for key, setting in SETTINGS.items():
        entry = page.split(f'id="setting-{key}"', 1)[1].split('id="setting-', 1)[0]
        text = html.unescape(re.sub(r"<[^>]+>", "", entry))
        assert f"Default:\n{literal(setting.default)}\n" in text, key
        assert " ".join(setting.type.replace("``", "").split()) in " ".join(text.split()), key


@pytest.mark.slow
def test_the_performance_page_is_the_committed_report(site: Path) -> None:
    """The per-request table and the goals are rendered from the committed JSON when the
    site is built: a figure from an older run cannot stay on the page."""
    from bench.per_request import RESULT, render

    per_request = json.loads(RESULT.read_text())
    page = text_of(site / "performance.html")
    assert per_request["commit"] in page
    for scenario, count in per_request["instructions_per_request"].items():
        assert f"{count:,.0f}" in page, scenario
    report = json.loads((BENCH / "report.json").read_text())
    for goal in report["goals"]:
        assert goal["id"] in page
    # The serving suite's section, as it wrote it into REPORT.md.
    from bench.serving_suite import REPORT, section_in

    serving = section_in(REPORT.read_text())
    assert serving is not None
    rows = re.findall(r"^\| (\w+ /\S+(?: \(proxied\))?|front native) \|", serving, re.M)
    assert len(rows) >= 4, serving
    for row in rows:
        assert row in html.unescape(page), row
    # The same table is in REPORT.md, as ``python -m bench`` wrote it.
    assert render(per_request).strip() in (BENCH / "REPORT.md").read_text()


@pytest.mark.slow
def test_the_chart_on_the_site_is_the_committed_one(site: Path) -> None:
    assert (site / "_images" / "report.png").read_bytes() == (BENCH / "report.png").read_bytes()
    assert 'src="_images/report.png"' in (site / "performance.html").read_text()


@pytest.mark.slow
def test_the_site_has_every_page_and_the_cli_reference(site: Path) -> None:
    for page in PAGES:
        assert (site / page.with_suffix(".html").name).exists(), page.name
    cli = text_of(site / "cli.html")
    for command in ("routes", "compare", "check", "bench", "serve", "new", "build"):
        assert f"flask rustpath {command} [OPTIONS]" in cli, command
    api = text_of(site / "api.html")
    assert "flask_rustpath.RustPath" in api and "init_app" in api
    changes = text_of(site / "changes.html")
    first = (ROOT / "CHANGES.md").read_text().splitlines()[0].lstrip("# ")
    assert first in changes
