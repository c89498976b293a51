"""``flask rustpath new``'s work: write a new crate from the templates in ``template/``.

With ``--kernel``, the crate's function is the Rust twin of a declared kernel: its
signature read from the kernel's annotations (:mod:`.signature`), its body left to
write, and parity tests on the kernel's own inputs (``template/kernel/``).
"""

from __future__ import annotations

import keyword
import os
import re
import sys
from pathlib import Path
from string import Template

from ..core.spec import KernelSpec
from .kernel_source import SOURCE_LINK, kernel_version, link_source
from .layout import DEFAULT_ROOT, CrateError
from .signature import RustSignature, rust_signature

#: The PyO3 requirement written into scaffolded crates: the same minor series as
#: flask-rustpath's own native module, so one toolchain setup serves both.
PYO3_VERSION = "0.30"


SCAFFOLD_DIR = Path(__file__).with_name("template")


# Scaffold template -> path inside the new crate. ``$name`` is substituted in both.
SCAFFOLD_FILES = {
    "Cargo.toml.tmpl": "Cargo.toml",
    "pyproject.toml.tmpl": "pyproject.toml",
    "lib.rs.tmpl": "src/lib.rs",
    "module.pyi.tmpl": "$name.pyi",
    "test_parity.py.tmpl": "tests/test_${name}_parity.py",
    "gitignore.tmpl": ".gitignore",
}
# With --kernel, these replace their namesakes above.
KERNEL_TEMPLATES = ("lib.rs.tmpl", "module.pyi.tmpl", "test_parity.py.tmpl")
# rustfmt's line width: a longer signature is written one parameter a line, as rustfmt
# would, so that the new crate passes `cargo fmt --check`.
RUSTFMT_WIDTH = 100


# fmt: off
# Names that cannot be a Rust crate or function name: strict and reserved keywords,
# plus crates every scaffold depends on (a crate may not share a dependency's name).
# fmt: off
_RUST_RESERVED = frozenset((
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
    "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    "core", "std", "alloc", "proc_macro", "test", "pyo3", "rustpath",
))
# fmt: on
# fmt: on
# fmt: on
_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
# Top-level items of the scaffolded src/lib.rs (rustfmt puts them in column 0). The
# #[pymodule] function is named after the crate, and PyO3 makes a module of that name,
# so a crate named like one of them does not compile.
_TEMPLATE_ITEMS = frozenset(
    re.findall(
        r"^(?:pub )?(?:fn|mod|const|static) ([a-z_][a-z0-9_]*)",
        (SCAFFOLD_DIR / "lib.rs.tmpl").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
)


def check_name(name: str) -> None:
    """Refuse a crate name that cannot be a Python module *and* a Rust crate.

    Lower-case ASCII only: Rust crate names are ASCII, and an upper-case module name
    makes rustc warn (non_snake_case), which fails ``clippy -D warnings``.
    """
    if not name.isidentifier():
        raise CrateError(f"{name!r} is not a valid Python identifier")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise CrateError(f"{name!r} is a Python keyword")
    if not _NAME_PATTERN.fullmatch(name):
        raise CrateError(
            f"{name!r}: use lower-case ASCII letters, digits and underscores "
            "(it names both a Python module and a Rust crate)"
        )
    if name in _RUST_RESERVED:
        raise CrateError(f"{name!r} is reserved in Rust or names a dependency")
    if name in _TEMPLATE_ITEMS:
        raise CrateError(f"{name!r} names an item of the scaffolded src/lib.rs")
    if name in sys.stdlib_module_names:
        raise CrateError(f"{name!r} would shadow the standard library module of that name")


def scaffold(
    name: str,
    directory: Path | None = None,
    kernel: KernelSpec | None = None,
    declared: str = "",
) -> list[Path]:
    """Write a new crate for module ``name`` into ``directory`` (default ``rust/NAME``).

    With ``kernel`` (declared at ``declared``, ``module:attribute``), the crate's one
    function is that kernel's Rust twin, with an empty body; else the example
    ``sum_of_primes``. Refuses an existing directory rather than merging into it:
    half-overwritten Cargo and pyproject files are worse than an error. Returns the
    files written.
    """
    check_name(name)
    target = Path(directory) if directory is not None else DEFAULT_ROOT / name
    values = {"name": name, "pyo3_version": PYO3_VERSION, "kernel_version": kernel_version()}
    twin = set()
    if kernel is not None:
        signature = rust_signature(kernel)
        check_function(name, signature.function)
        values.update(_kernel_values(name, target, signature, declared))
        twin = set(KERNEL_TEMPLATES)
    if target.exists():
        raise CrateError(f"{target} already exists; choose another --dir or remove it")
    written = []
    for template_name, relative in SCAFFOLD_FILES.items():
        source = SCAFFOLD_DIR / ("kernel" if template_name in twin else "") / template_name
        text = Template(source.read_text(encoding="utf-8"))
        path = target / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.substitute(values), encoding="utf-8")
        written.append(path)
    link_source(target)
    written.append(target / SOURCE_LINK)
    return written


def check_function(crate: str, function: str) -> None:
    """Refuse a kernel function whose name cannot be the Rust function's in ``crate``."""
    if not _NAME_PATTERN.fullmatch(function) or function in _RUST_RESERVED:
        raise CrateError(
            f"the kernel's function {function!r} cannot be a Rust function's name; "
            "rename it (lower-case ASCII letters, digits and underscores, not a Rust keyword)"
        )
    if function == crate:
        raise CrateError(
            f"the crate and its function are both named {function!r}: the module and the "
            "function would clash; choose another crate name"
        )


def _kernel_values(
    name: str, target: Path, signature: RustSignature, declared: str
) -> dict[str, str]:
    """The template values of a crate for one kernel."""
    rust = [f"{p.name}: {p.rust}" for p in signature.parameters]
    rust.append("deadline: &Deadline<'_>")
    head = f"fn {signature.function}("
    tail = f") -> Result<{signature.result}, Error>"
    line = head + ", ".join(rust) + tail
    if len(line) + 2 > RUSTFMT_WIDTH:  # + " {"
        line = head + "\n" + "".join(f"    {item},\n" for item in rust) + tail
    names = [p.name for p in signature.parameters] + ["deadline"]
    python = ", ".join(f"{p.name}: {p.python}" for p in signature.parameters)
    stub = ", ".join(filter(None, [python, "*, timeout: float | None = None"]))
    tests = target / "tests"
    test_path = tests / f"test_{name}_parity.py"
    module = declared.partition(":")[0]
    native_skip = ""
    if any("bytes" in p.python for p in signature.parameters):
        native_skip = (
            '    pytest.skip("bytes have no JSON form: the front cannot call it natively")\n'
        )
    return {
        "declared": declared,
        "module": module,
        "function": signature.function,
        "signature": line,
        "arguments": f"({', '.join(names)})" if len(names) > 1 else names[0],
        "python_parameters": python,
        "python_result": signature.python_result,
        "stub_parameters": stub,
        "test_path": test_path.as_posix(),
        "native_skip": native_skip,
        # From the tests to the project's root (the current directory), where `module`
        # imports from.
        "to_root": Path(os.path.relpath(Path.cwd(), tests.absolute())).as_posix(),
    }
