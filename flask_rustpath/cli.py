"""``flask rustpath``: list, compare and check an app's hot routes from the command line."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from flask import Flask, current_app, url_for
from flask.cli import AppGroup, ScriptInfo

from . import config, hey, serving
from .comparison import compare_sides
from .crate_commands import build_command as build_crates_command
from .crate_commands import new_command
from .crate_freshness import freshness
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
        backend: str
        try:
            backend = config.backend_for(current_app.config, route)
        except HotRouteError as err:
            backend = f"invalid ({err.message})"
        fresh = _FRESH[freshness(route.rust.module).fresh] if route.rust.module else "-"
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


@cli.command("bench")
@click.argument("route_names", nargs=-1, metavar="[ROUTE]...")
@click.option(
    "--serve",
    "app_spec",
    metavar="MODULE:APP",
    help="What gunicorn serves (default: the app given to flask with --app).",
)
@click.option(
    "-c",
    "--concurrency",
    default="1,8",
    show_default=True,
    help="Comma-separated hey concurrencies.",
)
@click.option(
    "-d",
    "--duration",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.5, 60),
    help="Seconds of load per URL and concurrency.",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256))
def bench_command(
    route_names: tuple[str, ...],
    app_spec: str | None,
    concurrency: str,
    duration: float,
    workers: int,
    threads: int,
) -> None:
    """Load /python and /rust of each hot route with hey, side by side, under real gunicorn.

    Each route is driven at its first ``examples=`` entry, on 127.0.0.1 only, for a
    bounded time per URL. Prints requests per second of each side and their ratio;
    exits 1 if any response was not a 2xx (a failed row is no measurement).
    """
    if hey.hey_path() is None:
        raise click.ClickException("hey is not installed (Debian/Ubuntu: apt-get install hey)")
    levels = _concurrencies(concurrency)
    spec = app_spec or _gunicorn_app(click.get_current_context().find_object(ScriptInfo))
    if not spec:
        raise click.ClickException("say what gunicorn should serve: --serve 'myapp:create_app()'")
    state = get_state()
    routes = [_route(name) for name in route_names] or list(state.routes.values())
    plan = []
    with current_app.test_request_context():
        for route in routes:
            if not route.examples:
                click.echo(f"skip  {route.name}: no examples= to request", err=True)
                continue
            for side in config.SIDES:
                endpoint = state.url_for_kind(route, side).endpoint
                plan.append((route.name, side, url_for(endpoint, **route.examples[0])))
    if not plan:
        raise click.ClickException("no hot route has examples= to benchmark")
    env = {"GUNICORN_APP": spec, "WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": str(threads)}
    rates: dict[tuple[str, str, int], float] = {}
    failed = False
    steps = len(plan) * len(levels)
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "gunicorn.log"
        try:
            with serving.gunicorn(env, log, cwd=Path.cwd(), ready_path=plan[0][2]) as base:
                step = 0
                for name, side, path in plan:
                    for level in levels:
                        step += 1
                        click.echo(
                            f"[{step}/{steps}] hey {path} c={level} {duration:g} s …", err=True
                        )
                        try:
                            summary = hey.run(base + path, concurrency=level, duration_s=duration)
                        except hey.HeyError as err:
                            problems = [str(err)]
                        else:
                            problems = summary.problems()
                            rates[name, side, level] = summary.ok_rps
                        if problems:
                            failed = True
                            click.echo(f"      FAILED: {'; '.join(problems)}", err=True)
        except serving.ServerError as err:
            raise click.ClickException(str(err)) from None
    header = ("ROUTE", "C", "PYTHON REQ/S", "RUST REQ/S", "RUST ÷ PYTHON")
    rows = [header]
    for name in dict.fromkeys(name for name, _, _ in plan):
        for level in levels:
            python, rust = rates.get((name, "python", level)), rates.get((name, "rust", level))
            ratio = f"{rust / python:,.1f}x" if python and rust else "-"
            rows.append((name, str(level), _rate(python), _rate(rust), ratio))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        click.echo("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))
    if failed:
        raise SystemExit(1)


def _gunicorn_app(info: ScriptInfo | None) -> str | None:
    """What ``--app`` named, spelt for gunicorn: a bare module becomes ``module:app`` or
    ``module:create_app()``, the names Flask itself looks for first."""
    path = info.app_import_path if info is not None else None
    if not path or ":" in path:
        return path
    module = sys.modules.get(path.removesuffix(".py").replace("/", "."))
    for name in ("app", "application"):
        if module is not None and isinstance(getattr(module, name, None), Flask):
            return f"{path}:{name}"
    for name in ("create_app", "make_app"):
        if module is not None and callable(getattr(module, name, None)):
            return f"{path}:{name}()"
    return None


def _concurrencies(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        levels = []
    if not levels or not all(1 <= level <= 1000 for level in levels):
        raise click.BadParameter(f"expected numbers from 1 to 1000 like 1,8; got {text!r}")
    return levels


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


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
