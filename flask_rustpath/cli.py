"""``flask rustpath``: list, compare and check an app's hot routes from the command line."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import config, crates
from .comparison import compare_sides
from .crate_commands import build_command as build_crates_command
from .crate_commands import new_command
from .errors import HotRouteError
from .hot import HotRoute, rule_variables
from .state import get_state

cli = AppGroup("rustpath", help="Inspect, compare and check the app's hot routes.")
cli.add_command(new_command)
cli.add_command(build_crates_command)

_FRESH = {True: "yes", False: "STALE", None: "-"}


@cli.command("routes")
def routes_command() -> None:
    """Table of hot routes: rule, Python side, Rust target, whether it imports and its
    build is fresh (sources not newer than the build; "-" when unknown), backend."""
    state = get_state()
    rows = [("ROUTE", "RULE", "PYTHON", "RUST TARGET", "IMPORTS", "FRESH", "BACKEND")]
    for route in state.routes.values():
        python = f"{route.python.__module__}:{route.python.__qualname__}"
        imports = "yes" if route.rust.available else "NO"
        try:
            backend = config.backend_for(current_app.config, route)
        except HotRouteError as err:
            backend = f"invalid ({err.message})"
        fresh = _FRESH[crates.freshness(route.rust.module).fresh] if route.rust.module else "-"
        rows.append((route.name, route.rule, python, route.rust.spec, imports, fresh, backend))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for route in state.routes.values():
        if not route.rust.available:
            try:
                route.rust.resolve()
            except Exception as exc:  # TargetUnavailable, with the reason
                click.echo(f"\n{route.name}: {exc}", err=True)


@cli.command("compare")
@click.argument("route_name", metavar="ROUTE")
@click.argument("arguments", nargs=-1, metavar="ARGS...")
@click.option("--no-limits", is_flag=True, help="Ignore the configured per-side limits.")
@click.option("--repeat", "-r", default=1, show_default=True, type=click.IntRange(min=1),
              help="Time each side this many times and keep the best.")  # fmt: skip
def compare_command(
    route_name: str, arguments: tuple[str, ...], no_limits: bool, repeat: int
) -> None:
    """Run both sides of ROUTE in-process and print timings, speedup and whether they match.

    ARGS are the rule's variables, in order or as name=value:
    ``flask rustpath compare sum_of_primes 100000``. The Rust side is warmed up
    with one untimed call first.
    """
    route = _route(route_name)
    state = get_state()
    try:
        kwargs = state.parse_arguments(current_app, route, _raw_arguments(route, arguments))
        comparison = compare_sides(route, kwargs, limits=not no_limits, repeat=repeat)
    except HotRouteError as err:
        raise click.ClickException(err.message) from None
    for side, outcome in (("python", comparison.python), ("rust", comparison.rust)):
        click.echo(f"{side:<7} {outcome.seconds * 1000:>12.3f} ms   {outcome.result!r}")
    if comparison.speedup is not None:
        click.echo(f"speedup {comparison.speedup:>12.1f} x")
    click.echo(f"match   {'yes' if comparison.match else 'NO'}")
    if not comparison.match:
        raise SystemExit(1)


@cli.command("check")
@click.argument("route_name", metavar="[ROUTE]", required=False)
@click.option("--examples", "max_examples", default=100, show_default=True,
              help="Generated inputs per route.")  # fmt: skip
def check_command(route_name: str | None, max_examples: int) -> None:
    """Check that Python and Rust agree, on each route's examples and generated inputs.

    Inputs come from the route's ``strategy=`` or its URL converters. Exits 1 on the
    first disagreement of any route, showing the (shrunk) failing input.
    """
    from .testing import ParityError, assert_parity

    routes = [_route(route_name)] if route_name else list(get_state().routes.values())
    failed = False
    for route in routes:
        try:
            checked = assert_parity(route, max_examples=max_examples)
        except ParityError as exc:
            failed = True
            click.echo(f"FAIL  {route.name}: {exc}")
        else:
            click.echo(f"ok    {route.name}: {checked} inputs agree")
    if failed:
        raise SystemExit(1)


def _route(name: str) -> HotRoute:
    routes = get_state().routes
    if name not in routes:
        known = ", ".join(sorted(routes)) or "none"
        raise click.BadParameter(f"no hot route {name!r}; known: {known}", param_hint="ROUTE")
    return routes[name]


def _raw_arguments(route: HotRoute, arguments: tuple[str, ...]) -> dict[str, str]:
    names = [variable.name for variable in rule_variables(route.rule)]
    raw: dict[str, str] = {}
    positional = iter(names)
    for argument in arguments:
        name, sep, value = argument.partition("=")
        if sep and name in names:
            raw[name] = value
        else:
            try:
                raw[next(positional)] = argument
            except StopIteration:
                raise click.BadParameter(
                    f"{route.rule} takes {len(names)} argument(s): {', '.join(names)}"
                ) from None
    return raw
