"""Pages generated from the code and the benchmark's data, so they cannot drift from them.

- ``.. rustpath-settings::`` lists every ``RUSTPATH_*`` key from
  ``flask_rustpath.core.config.SETTINGS`` (``:process:``: ``PROCESS_SETTINGS``), each
  with its type, default and meaning, as a ``setting`` entry that ``:setting:`KEY```
  (``{setting}`KEY``` in Markdown) links to.
- The toctree of ``index`` names pages that other work adds (``rustpath_optional_pages``
  in ``conf.py``): while one does not exist yet, its line is left out of the toctree
  instead of failing the build.
- A line ``<!-- bench-report -->`` in a page is replaced, when the page is read, by the
  report ``python -m bench`` renders from ``bench/report.json`` (and
  ``bench/per_request.json``), with its chart ``bench/report.png`` and the serving
  section ``python -m bench.serving_suite`` wrote into ``bench/REPORT.md``: no figure on
  the performance page is copied by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
REPORT_MARKER = "<!-- bench-report -->"


def literal(value: Any) -> str:
    """A default as a reader would write it in Python config: ``"rust"``, ``{}``, ``None``."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


class SettingsDirective(SphinxDirective):
    """One ``setting`` entry per key, in the order the code declares them."""

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"process": directives.flag}

    def run(self) -> list[nodes.Node]:
        from flask_rustpath.core import config

        process = "process" in self.options
        settings = config.PROCESS_SETTINGS if process else config.SETTINGS
        self.env.note_dependency(config.__file__)
        lines: list[str] = []
        for key, setting in settings.items():
            default = "unset" if process else f"``{literal(setting.default)}``"
            lines += [
                f".. setting:: {key}",
                "",
                f"   :Type: {setting.type}",
                f"   :Default: {default}",
                "",
                f"   {setting.meaning}",
                "",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=config.__file__), 0, container)
        return container.children


def _performance_report() -> str:
    """The benchmark report as Markdown, its headings one level down, for a page."""
    from bench.report import render
    from bench.serving_suite import REPORT, section_in

    results = json.loads((BENCH / "report.json").read_text())
    chart = BENCH / "report.png"
    text = render(results, chart_name=f"../bench/{chart.name}" if chart.exists() else None)
    # python -m bench.serving_suite writes its section into REPORT.md itself (its JSON is
    # not kept): the committed section, as the suite generated it.
    serving = section_in(REPORT.read_text())
    if serving is not None:
        text += "\n" + serving
    lines = text.splitlines()
    assert lines[0].startswith("# "), "the report starts with its title"
    out = []
    for line in lines[1:]:
        if line.startswith("#"):
            line = "#" + line
        out.append(
            line.replace(
                "`report.json` next to this file",
                "`bench/report.json` in the repository",
            )
        )
    return "\n".join(out)


def _insert_report(app: Sphinx, docname: str, source: list[str]) -> None:
    if REPORT_MARKER not in source[0]:
        return
    for name in ("report.json", "per_request.json", "report.png", "report.py", "REPORT.md"):
        app.env.note_dependency(str(BENCH / name))
    source[0] = source[0].replace(REPORT_MARKER, _performance_report())


def _drop_missing_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname != app.config.root_doc:
        return
    srcdir = Path(app.srcdir)
    missing = {
        page
        for page in app.config.rustpath_optional_pages
        if not any((srcdir / page).with_suffix(suffix).exists() for suffix in (".md", ".rst"))
    }
    lines = source[0].splitlines(keepends=True)
    source[0] = "".join(line for line in lines if line.strip() not in missing)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("rustpath_optional_pages", [], "env")
    app.connect("source-read", _drop_missing_pages)
    app.add_object_type("setting", "setting", indextemplate="pair: %s; setting", objname="setting")
    app.add_directive("rustpath-settings", SettingsDirective)
    app.connect("source-read", _insert_report)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
