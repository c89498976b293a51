"""``flask rustpath new`` and ``flask rustpath build``: your own Rust crates.

Plain click commands (no app context needed), added to the ``rustpath`` group in
:mod:`flask_rustpath.cli`. The work is done by the other modules of this package.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from .build import build_crate, check_tools
from .kernel_source import point_at_installed
from .layout import DEFAULT_ROOT, CrateError, find_crates
from .scaffold import scaffold
from .signature import KernelNotFound, Unsupported, find_kernel


def _fail(message: str, status: int = 1) -> NoReturn:
    """One line on stderr, exit 1 (2 for a bad option value): refusals are expected
    outcomes, not tracebacks."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(status)


def _prefixed(name: str) -> Callable[[str], None]:
    """Echo each build output line prefixed with its crate's name."""

    def echo(line: str) -> None:
        click.echo(f"[{name}] {line}")

    return echo


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the crate (default: rust/NAME).",
)
@click.option(
    "--kernel",
    "declared",
    metavar="MODULE:FUNCTION",
    help="Write the Rust twin of this declared kernel instead of the example: its "
    "signature from the kernel's annotations, an empty body, and parity tests on the "
    "kernel's own inputs.",
)
def new_command(name: str, directory: Path | None, declared: str | None) -> None:
    """Scaffold a Rust crate (maturin + PyO3 + rayon) whose Python module is NAME.

    It holds one example function, sum_of_primes, a type stub and a parity test; with
    --kernel, the twin of that kernel instead. Build and install it with
    `flask rustpath build NAME`.
    """
    kernel = None
    if declared is not None:
        try:
            kernel = find_kernel(declared)
        except KernelNotFound as err:
            _fail(str(err), status=2)
    try:
        written = scaffold(name, directory, kernel, declared or "")
    except Unsupported as err:
        _fail(str(err), status=2)
    except CrateError as err:
        _fail(str(err))
    crate_dir = written[0].parent
    for path in written:
        click.echo(f"created {path}")
    tests = crate_dir / "tests"
    if kernel is None:
        click.echo(
            f"\nNext: flask rustpath build {name}\n"
            f'then: @rustpath.hot("/sum_of_primes/<int:n>", rust="{name}:sum_of_primes")\n'
            f"test: python -m pytest {tests}"
        )
        return
    function = kernel.python.__name__
    click.echo(
        f"\nNext: write the body of {function} in {crate_dir / 'src' / 'lib.rs'}\n"
        f"then: flask rustpath build {name}\n"
        f"test: python -m pytest {tests}\n"
        f'then: declare the kernel with rust="{name}:{function}"'
    )


@click.command("build")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--debug", is_flag=True, help="Build with the dev profile (faster compile).")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_ROOT,
    show_default=True,
    help="Where to look for crates by name.",
)
def build_command(names: tuple[str, ...], debug: bool, root: Path) -> None:
    """Compile crates and install them, editable, into this Python environment.

    NAME is a crate under rust/ (or a crate directory); with none, every crate
    directory in rust/ is built. Release profile unless --debug. Editable, so maturin's import
    hook can rebuild them on import when RUSTPATH_AUTOBUILD is on.
    """
    try:
        check_tools()
        found = find_crates(names, root)
    except CrateError as err:
        _fail(str(err))
        return
    if not found:
        _fail(f"no crates under {root}/ (create one with `flask rustpath new NAME`)")
    profile = "debug" if debug else "release"
    failed = []
    for crate in found:
        try:
            point_at_installed(crate)
        except CrateError as err:
            failed.append(crate.name)
            click.echo(f"[{crate.name}] FAILED: {err}", err=True)
            continue
        click.echo(f"[{crate.name}] building {crate.path} ({profile})")
        result = build_crate(crate, release=not debug, on_line=_prefixed(crate.name))
        if result.ok:
            click.echo(f"[{crate.name}] ok: built and installed in {result.seconds:.1f}s")
        else:
            failed.append(crate.name)
            first = result.first_error()
            reason = f": {first}" if first else " (see the output above)"
            click.echo(f"[{crate.name}] FAILED after {result.seconds:.1f}s{reason}", err=True)
    if failed:
        raise SystemExit(1)


#: The same two commands without Flask: ``python -m flask_rustpath.crates.commands build``
#: works even when the app cannot load yet (it imports a crate that is not built).
main = click.Group(
    "rustpath-crates", commands=[new_command, build_command], help="Scaffold and build crates."
)

if __name__ == "__main__":
    main()
