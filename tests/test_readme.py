"""The README's example is real code: run it and call the route it declares."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_offloads_a_view() -> None:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = next(b for b in blocks if "@rustpath.hot" in b)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(example, str(README), "exec"), namespace)
    client = namespace["app"].test_client()
    for prefix, backend in (("/python", "python"), ("/rust", "rust"), ("", "rust")):
        response = client.get(f"{prefix}/sum_of_primes/100000")
        assert response.json == {"result": 454_396_537}
        assert response.headers["X-RustPath-Backend"] == backend
    assert client.get("/python/sum_of_primes/1000001").status_code == 422


def test_readme_names_only_settings_that_exist() -> None:
    """A key the README names but init_app refuses would break a reader's app."""
    from flask_rustpath.core.config import DEFAULTS, PROCESS_KEYS

    named = set(re.findall(r"RUSTPATH_[A-Z_]*[A-Z]", README.read_text()))
    assert named - set(DEFAULTS) - PROCESS_KEYS == set()


def test_readme_documents_every_setting() -> None:
    from flask_rustpath.core.config import DEFAULTS

    named = set(re.findall(r"RUSTPATH_[A-Z_]*[A-Z]", README.read_text()))
    assert set(DEFAULTS) - named == set()


def test_readme_per_request_figures_are_the_committed_report() -> None:
    """The README's per-request table is the one ``python -m bench.per_request`` wrote
    at the commit, as the report renders it: a figure from an older build fails here."""
    import json

    from bench.per_request import RESULT, render

    table = render(json.loads(RESULT.read_text()))
    text = README.read_text()
    found = re.search(r"<!-- per-request -->\n(.*?)\n<!-- /per-request -->", text, flags=re.S)
    assert found is not None, "the README lost its per-request block"
    assert found.group(1).strip() == table.strip()
    report = (README.parent / "bench" / "REPORT.md").read_text()
    assert table.strip() in report
