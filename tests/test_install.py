"""Install: the extras in ``pyproject.toml`` are the ones the quickstart's install table
lists, each tool whose optional dependency is missing says in one line which extra
brings it, and the serving page's Granian command serves a real factory-built app."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from flask_rustpath.serving import launch
from flask_rustpath.support.extras import EXTRAS, MissingExtra, require
from tests.apps import shop

from . import support

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
QUICKSTART = (DOCS / "quickstart.md").read_text()
TUTORIAL = (DOCS / "tutorial.md").read_text()
SERVING = (DOCS / "serving.md").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OPTIONAL = PYPROJECT["project"]["optional-dependencies"]


def distribution(requirement: str) -> str:
    """``"gunicorn>=22"`` -> ``"gunicorn"``; ``"flask[async]>=3"`` -> ``"flask"``."""
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found is not None, requirement
    return found.group(0).lower()


def install_table() -> dict[str, str]:
    """The quickstart's install table: extra -> its "brings" cell."""
    section = QUICKSTART.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z]+)` \| ([^|]+) \|", section, flags=re.M)
    return {extra: brings.strip() for extra, brings in rows}


def test_the_install_table_lists_every_extra_with_what_it_brings() -> None:
    listed = install_table()
    assert set(listed) == set(OPTIONAL)
    for extra, requirements in OPTIONAL.items():
        if extra == "test":  # "all of the above, …": its packages are pinned by the file
            continue
        brings = {name.strip().lower() for name in listed[extra].split(",")}
        assert brings == {distribution(r) for r in requirements}, extra


def test_the_walkthroughs_extra_brings_what_the_walkthrough_runs() -> None:
    """new/build and rebuilds (maturin, its hook), check and the scaffold's tests
    (hypothesis, pytest), serve and bench (gunicorn): `[dev]` was not enough before."""
    assert "pip install 'flask-rustpath[dev]'" in TUTORIAL
    dev = {distribution(r) for r in OPTIONAL["dev"]}
    assert dev >= {"maturin", "maturin-import-hook", "hypothesis", "pytest", "gunicorn"}
    scaffold_test = (ROOT / "flask_rustpath/crates/template/test_parity.py.tmpl").read_text()
    imported = set(re.findall(r"^(?:from|import) ([a-z_]+)", scaffold_test, flags=re.M))
    assert imported - {"__future__", "importlib", "math", "flask", "flask_rustpath"} <= {"pytest"}


def test_every_optional_module_names_an_extra_that_brings_it() -> None:
    for module, (dist, extra) in EXTRAS.items():
        assert dist in {distribution(r) for r in OPTIONAL[extra]}, module
        assert f"pip install 'flask-rustpath[{extra}]'" in QUICKSTART or extra in install_table()


def flask_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app tests.apps.shop:create_app() ARGS`` in a process where ``module``
    cannot be imported (``sys.modules[module] = None``, as if not installed)."""
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None\n"
        "from flask.cli import main\n"
        f"sys.argv = ['flask', '--app', 'tests.apps.shop:create_app()', *{list(args)!r}]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        (
            "gunicorn",
            ["rustpath", "serve"],
            "flask rustpath serve needs gunicorn: pip install 'flask-rustpath[serve]'",
        ),
        (
            "gunicorn",
            ["rustpath", "bench", "--url", "/reports/api/10"],
            "flask rustpath bench needs gunicorn: pip install 'flask-rustpath[serve]'",
        ),
        (
            "hypothesis",
            ["rustpath", "check"],
            "flask rustpath check needs hypothesis: pip install 'flask-rustpath[testing]'",
        ),
        (
            "maturin",
            ["rustpath", "build"],
            "building crates needs maturin: pip install 'flask-rustpath[dev]'",
        ),
    ],
)
def test_a_missing_dependency_is_one_line_naming_its_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, args: list[str], message: str
) -> None:
    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    if module == "maturin":  # build looks for crates under the current directory
        (tmp_path / "rust" / "k").mkdir(parents=True)
    done = flask_without(module, *args)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: {message}"


def test_metrics_without_prometheus_client_name_the_extra(tmp_path: Path) -> None:
    # A fresh process: this one may have imported prometheus_client already.
    code = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None\n"
        "from tests.apps.shop import create_app\n"
        "response = create_app({'TESTING': True}).test_client().get('/rustpath/metrics')\n"
        "print(response.status_code, response.json['message'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "SHOP_DATABASE": str(tmp_path / "shop.sqlite")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "503 metrics needs prometheus-client: pip install 'flask-rustpath[metrics]'"
    )


def test_parity_checks_without_hypothesis_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(MissingExtra, match=r"needs hypothesis: pip install 'flask-rustpath\["):
        require("hypothesis", "checking generated inputs")
    from flask_rustpath.testing import assert_parity

    with pytest.raises(MissingExtra, match=r"flask-rustpath\[testing\]"):
        assert_parity(shop.prime_total, max_examples=5)


@pytest.mark.slow
def test_the_docs_granian_command_serves_a_factory_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [line] = [ln for ln in SERVING.splitlines() if ln.startswith("granian ")]
    command = shlex.split(line)
    assert command[-1] == "myapp:create_app", line  # the factory, named as Granian takes it
    granian = Path(sys.executable).parent / "granian"
    if not granian.exists():
        support.missing("granian is not installed (pip install granian)")
    port = launch.free_port()
    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    shop.create_app()  # seed the database once, before the workers start
    command = [
        str(granian),
        *command[1:-1],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "tests.apps.shop:create_app",
    ]
    with launch.serve_process(
        "granian",
        command,
        {},
        tmp_path / "granian.log",
        port=port,
        cwd=ROOT,
        ready_path="/healthz",
    ) as running:
        status, body = launch.fetch(running.base + "/healthz")
        assert (status, body) == (200, b'{"status":"ok"}\n')
        # Flask-Login sends an anonymous client to the CSRF login form: the real app.
        status, body = launch.fetch(running.base + "/rust/reports/api/10")
        assert status == 200 and b'name="csrf_token"' in body
