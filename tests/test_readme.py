"""The README is the front page: a real example, the test command CI runs, and links
to the documentation that name real files."""

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


def test_readme_is_a_front_page() -> None:
    """At most 200 lines: the long sections live on the documentation's pages."""
    assert len(README.read_text().splitlines()) <= 200


def test_readme_holds_the_test_command_ci_runs() -> None:
    """.ci/run refuses to start when the README's line differs; this says so sooner."""
    ci = (README.parent / ".ci" / "run").read_text()
    found = re.search(r'^TEST_COMMAND="(.*)"$', ci, flags=re.M)
    assert found is not None
    assert found.group(1) in README.read_text().splitlines()


def test_readme_links_and_picture_exist() -> None:
    """Every relative link (the docs' pages, the picture) names a file of the repository."""
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if "://" not in t]
    assert any(t.endswith(".png") for t in local)
    for target in local:
        assert (README.parent / target).exists(), target
    pages = {Path(t).name for t in local if t.startswith("docs/") and t.endswith(".md")}
    for page in (README.parent / "docs").glob("*.md"):
        if page.name not in {"index.md", "changes.md"}:
            assert page.name in pages, f"the README does not link {page.name}"
