"""The kernel crate (``rustpath``) as users get it: shipped in the package, pinned by
version in a scaffolded crate, checked by ``build``; and the scaffold it makes small.

Fast tests: nothing here compiles (test_crates.py builds a scaffolded crate).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner

import flask_rustpath
from flask_rustpath.crates import build as crate_build
from flask_rustpath.crates import commands as crate_commands
from flask_rustpath.crates import kernel_source
from flask_rustpath.crates import layout as crate_layout
from flask_rustpath.crates.commands import build_command, new_command
from flask_rustpath.serving.front import CAPSULE_NAME

REPO = Path(__file__).resolve().parent.parent


def rust_files() -> list[Path]:
    """Every Rust source of the project and of the scaffold's template."""
    files = [
        *REPO.joinpath("rust_src").rglob("*.rs"),
        *kernel_source.KERNEL_DIR.parent.rglob("*.rs"),
    ]
    return [*files, REPO / "flask_rustpath" / "crates" / "template" / "lib.rs.tmpl"]


def test_the_capsule_name_is_spelled_in_one_rust_file() -> None:
    spelled = [p for p in rust_files() if CAPSULE_NAME in p.read_text(encoding="utf-8")]
    assert spelled == [kernel_source.KERNEL_DIR / "src" / "abi.rs"]


def test_the_crates_move_in_lockstep_with_the_python_package() -> None:
    def version(path: Path) -> str:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return str((data.get("package") or data["project"])["version"])

    rust = kernel_source.KERNEL_DIR.parent
    versions = {
        version(REPO / "pyproject.toml"),
        version(REPO / "Cargo.toml"),
        version(rust / "kernel" / "Cargo.toml"),
        version(rust / "kernel-macros" / "Cargo.toml"),
        kernel_source.kernel_version(),
    }
    assert len(versions) == 1, versions
    kernel = tomllib.loads((rust / "kernel" / "Cargo.toml").read_text(encoding="utf-8"))
    macros = kernel["dependencies"]["flask-rustpath-kernel-macros"]
    assert macros["version"] == "=" + kernel_source.kernel_version()
    if flask_rustpath.__version__ != "0+unknown":
        assert flask_rustpath.__version__ == kernel_source.kernel_version()


def test_the_shipped_crate_has_its_sources_and_no_build_output() -> None:
    rust = kernel_source.KERNEL_DIR.parent
    for crate in ("kernel", "kernel-macros"):
        assert (rust / crate / "Cargo.toml").is_file()
        assert (rust / crate / "src" / "lib.rs").is_file()
        assert not (rust / crate / "target").exists()
        assert not (rust / crate / "tests").exists()  # its tests live in rust_src/tests


def test_a_scaffold_is_one_function_and_one_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(new_command, ["lean"])
    assert result.exit_code == 0, result.output
    crate = tmp_path / "rust" / "lean"
    lib = (crate / "src" / "lib.rs").read_text(encoding="utf-8")
    code = [
        line for line in lib.splitlines() if line.strip() and not line.strip().startswith("//")
    ]
    assert len(code) <= 80, len(code)
    for glue in ('extern "C"', "PyCapsule", "unsafe", "AtomicU8", "AtomicBool"):
        assert glue not in lib, glue
    assert "#[rustpath::kernel]" in lib
    assert re.search(r"^rustpath::module!\(lean, \[sum_of_primes\]\);$", lib, re.MULTILINE)

    cargo = tomllib.loads((crate / "Cargo.toml").read_text(encoding="utf-8"))
    assert cargo["dependencies"]["flask-rustpath-kernel"] == {
        "path": ".flask-rustpath/kernel",
        "version": "=" + kernel_source.kernel_version(),
    }
    assert cargo["lints"]["rust"]["unsafe_code"] == "forbid"
    shipped = (crate / ".flask-rustpath" / "kernel").resolve()
    assert shipped == kernel_source.KERNEL_DIR.resolve()
    assert "/.flask-rustpath\n" in (crate / ".gitignore").read_text(encoding="utf-8")


def test_build_names_the_fix_when_the_pin_is_not_the_installed_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(new_command, ["pinned"]).exit_code == 0
    manifest = tmp_path / "rust" / "pinned" / "Cargo.toml"
    installed = kernel_source.kernel_version()
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(f'"={installed}"', '"=0.0.1"'),
        encoding="utf-8",
    )
    (tmp_path / "rust" / "pinned" / ".flask-rustpath").unlink()
    monkeypatch.setattr(crate_commands, "check_tools", lambda: None)

    def must_not_compile(*args: object, **kwargs: object) -> object:
        raise AssertionError("a mismatched crate must not be compiled")

    monkeypatch.setattr(crate_commands, "build_crate", must_not_compile)
    result = CliRunner().invoke(build_command, ["pinned"])
    assert result.exit_code == 1
    assert "pins flask-rustpath-kernel =0.0.1" in result.output
    assert f'set flask-rustpath-kernel = "={installed}" there' in result.output
    assert "then run flask rustpath build again" in result.output
    assert not (tmp_path / "rust" / "pinned" / ".flask-rustpath").exists()


def test_build_remakes_the_link_and_leaves_a_hand_written_abi_crate_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(new_command, ["fresh"]).exit_code == 0
    link = tmp_path / "rust" / "fresh" / ".flask-rustpath"
    link.unlink()
    link.symlink_to(tmp_path)  # as if flask-rustpath had moved (another virtualenv)
    old = tmp_path / "rust" / "old"
    old.mkdir()
    (old / "Cargo.toml").write_text(
        '[package]\nname = "old"\nversion = "0.1.0"\n[lib]\nname = "old"\n'
        '[dependencies]\npyo3 = "0.30"\nrayon = "1"\nserde_json = "1"\n',
        encoding="utf-8",
    )
    (old / "pyproject.toml").write_text('[tool.maturin]\nmodule-name = "old"\n', encoding="utf-8")
    built = []
    monkeypatch.setattr(crate_commands, "check_tools", lambda: None)
    monkeypatch.setattr(
        crate_commands,
        "build_crate",
        lambda crate, **kw: built.append(crate.name) or crate_build.BuildResult(crate, 0, 0.0, []),
    )
    result = CliRunner().invoke(build_command, [])
    assert result.exit_code == 0, result.output
    assert built == ["fresh", "old"]
    assert link.resolve() == kernel_source.KERNEL_DIR.parent.resolve()
    assert not (old / ".flask-rustpath").exists()


def test_the_kernel_crate_counts_as_a_source_of_the_crates_that_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So an upgrade of flask-rustpath (or an edit of the kernel crate) makes a built
    crate stale, and ``flask run --debug`` watches it."""
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(new_command, ["uses"]).exit_code == 0
    crate = tmp_path / "rust" / "uses"
    sources = [p.resolve() for p in crate_layout.source_files(crate)]
    kernel = kernel_source.KERNEL_DIR.resolve()
    assert (crate / "src" / "lib.rs").resolve() in sources
    assert kernel / "src" / "abi.rs" in sources
    assert kernel / "Cargo.toml" in sources
    assert kernel.parent / "kernel-macros" / "src" / "lib.rs" in sources
    own = [p.resolve() for p in crate_layout.source_files(REPO)]
    assert REPO / "rust_src" / "lib.rs" in own and kernel / "src" / "abi.rs" in own
    assert len(own) == len(set(own))
