"""``flask rustpath``: list, compare, check, benchmark and serve the app's kernels."""

from __future__ import annotations

import difflib
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from flask import Flask, current_app, request
from flask.cli import AppGroup, ScriptInfo
from werkzeug.routing import RequestRedirect

from .core.comparison import compare_sides
from .core.config import check_kernel_names
from .core.errors import HotRouteError, Misconfigured
from .core.parameters import kernel_parameters
from .core.sides import SIDES
from .core.spec import KernelSpec
from .crates.commands import build_command as build_crates_command
from .crates.commands import new_command
from .crates.freshness import freshness
from .dashboard import tool_arguments
from .hot import HotRoute
from .pairing import is_paired, plain_rules
from .serving import access, hey
from .serving import launch as serving
from .state import RustPathState, get_state
from .support.extras import MissingExtra, require
from .support.rules import rule_variables
from .urls import url_for


class ConfigError(click.ClickException):
    """A ``RUSTPATH_*`` setting or a declaration is wrong: one line, exit status 2 (a
    usage error, as click's own), never a traceback ending in the useful line."""

    exit_code = 2


class RustPathGroup(AppGroup):
    """``flask rustpath``: its commands load the app themselves (``flask.commands``
    entry point), so a refusal of the app's settings by ``init_app``, or of its
    kernel names by :func:`app_state`, reaches this group and is said in one line;
    so is a missing optional dependency, with the extra that brings it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Misconfigured as exc:
            raise ConfigError(f"flask-rustpath: {' '.join(str(exc).split())}") from None
        except MissingExtra as exc:
            raise click.ClickException(str(exc)) from None


cli = RustPathGroup("rustpath", help="Inspect, compare, check and benchmark the app's kernels.")
cli.add_command(new_command)
cli.add_command(build_crates_command)

_FRESH = {True: "yes", False: "STALE", None: "-"}
# Lines of a differing body shown by `compare /url`.
DIFF_LINES = 40


def app_state() -> tuple[Flask, RustPathState]:
    """The current app and its state, once its settings passed the checks that need
    every kernel declared (the app is loaded in full by now)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state = get_state(app)
    check_kernel_names(state.settings, state.kernels)
    return app, state


F = TypeVar("F", bound=Callable[..., Any])


def access_options(command: F) -> F:
    """``-H``, ``--cookie``, ``--login`` and ``-F``: what a logged-in client sends."""
    options = [
        click.option("-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'",
                     help="A request header (repeatable); a Cookie header is read as "
                     "cookies."),
        click.option("--cookie", "cookies", multiple=True, metavar="NAME=VALUE",
                     help="A cookie to send, e.g. a session (repeatable)."),
        click.option("--login", "login_path", metavar="/PATH",
                     help="Log in first through the app's form at /PATH (its hidden "
                     "fields, such as a CSRF token, are kept); its cookies are sent."),
        click.option("-F", "--form", "form_fields", multiple=True, metavar="NAME=VALUE",
                     help="A field of the --login form (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def credentials(
    app: Flask,
    headers: Sequence[str],
    cookies: Sequence[str],
    login_path: str | None,
    form_fields: Sequence[str],
) -> access.Credentials:
    """The headers and cookies the options give, after the --login if any."""
    try:
        found = access.Credentials.parse(headers, cookies)
        fields = dict(_pair(field, "-F") for field in form_fields)
        if login_path is not None:
            click.echo(access.login(app, login_path, fields, found), err=True)
        elif fields:
            raise access.AccessError("-F fills the --login form: give --login /PATH too")
    except access.AccessError as err:
        raise click.UsageError(str(err)) from None
    return found


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise access.AccessError(f"expected {option} name=value, got {text!r}")
    return name, value


# -- routes --------------------------------------------------------------------------------


@cli.command("routes")
def routes_command() -> None:
    """Tables of the app's kernels, paired views and JSON shorthand routes.

    Kernels: Python reference, Rust target, whether it imports and its build is fresh
    (sources not newer than the build; "-" when unknown), and the backend that runs it
    when no side is pinned. Paired views: the URLs of their two variants.
    """
    app, state = app_state()
    rows = [("KERNEL", "PYTHON", "RUST TARGET", "IMPORTS", "FRESH", "BACKEND")]
    for kernel in state.kernels.values():
        imports = "yes" if kernel.rust.available else "NO"
        fresh = _FRESH[freshness(kernel.rust.module).fresh] if kernel.rust.module else "-"
        rows.append(
            (kernel.name, _qualified(kernel.python), kernel.rust.spec, imports, fresh,
             _backend(state, kernel))
        )  # fmt: skip
    _table(rows)
    click.echo()
    paired = [("PAIRED VIEW", "RULE", "METHODS", "PYTHON URL", "RUST URL")]
    for rule in plain_rules(app.url_map):
        if is_paired(app.view_functions.get(rule.endpoint)):
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            variants = [state.settings.prefix(side) + rule.rule for side in SIDES]
            paired.append((rule.endpoint, rule.rule, methods, *variants))
    _table(paired)
    click.echo()
    shorthand = [("JSON ROUTE", "RULE", "KERNEL", "METHODS", "REQUEST PARAMETERS")]
    for endpoint, route in state.routes.items():
        parameters = " ".join(f"{p.name}:{_kind(p.kind)}" for p in route.parameters) or "-"
        shorthand.append(
            (endpoint, _full_rule(app, endpoint, route), route.kernel.name,
             ",".join(route.methods), parameters)
        )  # fmt: skip
    _table(shorthand)
    for kernel in state.kernels.values():
        try:
            kernel.rust.resolve()
        except Exception as exc:  # TargetUnavailable, with the reason
            click.echo(f"\n{kernel.name}: {exc}", err=True)


def _backend(state: RustPathState, kernel: KernelSpec) -> str:
    settings = state.settings_for(kernel)
    if settings.backend == "shadow":
        return f"shadow:{settings.shadow_rate:.0%}"
    return settings.backend


def _full_rule(app: Flask, endpoint: str, route: HotRoute) -> str:
    """The rule as the app serves it (with a blueprint's ``url_prefix``)."""
    rules = [rule.rule for rule in plain_rules(app.url_map, endpoint)]
    return rules[0] if rules else route.rule


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        click.echo("  ".join(cell.ljust(width) for cell, width in cells).rstrip())


# -- compare -------------------------------------------------------------------------------


@cli.command("compare")
@click.argument("target", metavar="KERNEL|/URL")
@click.argument("arguments", nargs=-1, metavar="ARGS...")
@click.option("--no-limits", is_flag=True, help="Ignore the configured per-side limits.")
@click.option("--repeat", "-r", default=1, show_default=True, type=click.IntRange(min=1),
              help="Time each side this many times and keep the best.")  # fmt: skip
@click.option("-X", "--method", default="GET", show_default=True,
              help="HTTP method, for a /URL.")  # fmt: skip
@access_options
@click.option("--json", "json_body", metavar="JSON", help="A JSON request body, for a /URL.")
@click.option("--data", metavar="TEXT", help="A raw request body, for a /URL.")
def compare_command(
    target: str,
    arguments: tuple[str, ...],
    no_limits: bool,
    repeat: int,
    method: str,
    headers: tuple[str, ...],
    cookies: tuple[str, ...],
    login_path: str | None,
    form_fields: tuple[str, ...],
    json_body: str | None,
    data: str | None,
) -> None:
    """Run both sides of a kernel, or of a paired view's URL, and say whether they agree.

    \b
    flask rustpath compare sum_of_primes 100000
    flask rustpath compare text_stats body='a b c'
    flask rustpath compare /blog/stats/3 --cookie session=…
    flask rustpath compare /reports/api/10 --login /auth/login -F username=alice -F password=…

    A KERNEL runs in-process on ARGS, given in parameter order or as name=value and
    converted by the parameter's type annotation (a list or dict parameter takes
    JSON); the Rust side is warmed up with one untimed call first. A /URL of a paired
    view is requested through the app's test client at /python/URL and /rust/URL
    (--repeat times each, timing the whole request; the last responses count), with
    the -H headers and the cookies of --cookie and --login, and the responses' status,
    content type and body are compared. Redirects are not followed. Exits 1 when the
    sides disagree, and 2 when both answered a 3xx or 4xx (a login page, a refusal):
    nothing of the view was compared.
    """
    if target.startswith("/"):
        if arguments:
            raise click.UsageError("a /URL takes no ARGS; put the query string in the URL")
        body = json_body.encode() if json_body is not None else (data or "").encode()
        app, _ = app_state()
        sent = credentials(app, headers, cookies, login_path, form_fields)
        if json_body is not None:
            sent.headers.setdefault("Content-Type", "application/json")
        _compare_url(target, method.upper(), sent, body or None, repeat)
        return
    if cookies or login_path or form_fields:
        raise click.UsageError("--cookie, --login and -F are for a /URL")
    app, state = app_state()
    kernel = _kernel(state, target)
    try:
        kwargs = tool_arguments(app, state, kernel, _raw_arguments(kernel, arguments))
        comparison = compare_sides(state, kernel, kwargs, limits=not no_limits, repeat=repeat)
    except HotRouteError as err:
        raise click.ClickException(err.message) from None
    except TypeError as err:  # positional-only parameters: no names to give
        raise click.ClickException(str(err)) from None
    for side, outcome in (("python", comparison.python), ("rust", comparison.rust)):
        click.echo(f"{side:<7} {outcome.seconds * 1000:>12.3f} ms   {outcome.result!r}")
    if comparison.speedup is not None:
        click.echo(f"speedup {comparison.speedup:>12.1f} x")
    click.echo(f"match   {'yes' if comparison.match else 'NO'}")
    if not comparison.match:
        raise SystemExit(1)


def _compare_url(
    url: str, method: str, sent: access.Credentials, body: bytes | None, repeat: int
) -> None:
    app, state = app_state()
    endpoint = paired_endpoint(app, url, method)
    responses = {}
    headers = sent.request_headers()
    for side in SIDES:
        # No cookie jar: it would replace the Cookie header (see serving.access), and
        # no cookie set by one side or one repeat reaches another request.
        client = app.test_client(use_cookies=False)
        seconds = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.open(
                state.settings.prefix(side) + url, method=method, headers=headers, data=body
            )
            seconds = min(seconds, time.perf_counter() - started)
        responses[side] = response
        location = response.headers.get("Location")
        click.echo(
            f"{side:<7} {seconds * 1000:>12.3f} ms   {response.status_code}  "
            f"{response.content_type or '-'}  {len(response.get_data())} bytes"
            + (f"  -> {location}" if location else "")
        )
    click.echo(f"view    {endpoint}")
    refused = {
        side: reason
        for side, response in responses.items()
        if (reason := access.not_an_answer(response.status_code, response.headers.get("Location")))
    }
    if len(refused) == len(SIDES):
        said = "; ".join(f"{side} answered {reason}" for side, reason in refused.items())
        click.echo(f"match   not compared: {said}")
        click.echo(f"        {access.hint(r.status_code for r in responses.values())}")
        raise SystemExit(2)
    for side, reason in refused.items():
        click.echo(f"note    only {side} answered {reason}")
    python, rust = responses["python"], responses["rust"]
    differences = []
    if python.status_code != rust.status_code:
        differences.append(f"status: python {python.status_code}, rust {rust.status_code}")
    if python.content_type != rust.content_type:
        differences.append(
            f"content type: python {python.content_type!r}, rust {rust.content_type!r}"
        )
    if python.get_data() != rust.get_data():
        differences.append("body:\n" + _body_diff(python.get_data(), rust.get_data()))
    click.echo(f"match   {'NO' if differences else 'yes'}")
    for difference in differences:
        click.echo(difference)
    if differences:
        raise SystemExit(1)


def paired_endpoint(app: Flask, url: str, method: str = "GET") -> str:
    """The endpoint of the paired view that serves ``url`` (a plain URL, query string
    allowed); :class:`click.ClickException` when it is no paired view's."""
    path = urlsplit(url).path
    with app.test_request_context(path, method=method):
        exc = request.routing_exception
        if isinstance(exc, RequestRedirect):
            raise click.ClickException(f"{path} redirects to {exc.new_url}; give that URL")
        if exc is not None:
            raise click.ClickException(f"{method} {path} matches no URL rule of the app ({exc})")
        endpoint = request.endpoint or ""
    if not is_paired(app.view_functions.get(endpoint)):
        raise click.ClickException(
            f"{path} is served by {endpoint!r}, which is not a paired view: it has no "
            "/python and /rust variants (mark it with @rustpath.paired)"
        )
    return endpoint


def _body_diff(python: bytes, rust: bytes) -> str:
    a = python.decode("utf-8", "replace").splitlines()
    b = rust.decode("utf-8", "replace").splitlines()
    if a == b:  # the bytes differ where splitlines() cannot see it: line endings
        return f"  python {python[:200]!r}\n  rust   {rust[:200]!r}"
    lines = list(difflib.unified_diff(a, b, "python", "rust", lineterm=""))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… {len(lines) - DIFF_LINES} more diff lines"]
    return "\n".join(lines)


def _kernel(state: RustPathState, name: str) -> KernelSpec:
    if name not in state.kernels:
        known = ", ".join(sorted(state.kernels)) or "none"
        raise click.BadParameter(f"no kernel {name!r}; known: {known}", param_hint="KERNEL")
    return state.kernels[name]


def _raw_arguments(kernel: KernelSpec, arguments: tuple[str, ...]) -> dict[str, str]:
    """ARGS by parameter name: ``name=value`` for a parameter of that name, else the
    next parameter in order (so a positional text may contain ``=``)."""
    try:
        names = [parameter.name for parameter in kernel_parameters(kernel)]
    except TypeError as err:
        raise click.ClickException(str(err)) from None
    raw: dict[str, str] = {}
    for argument in arguments:
        name, sep, value = argument.partition("=")
        if sep and name in names:
            raw[name] = value
            continue
        position = next((n for n in names if n not in raw), None)
        if position is None:
            raise click.BadParameter(
                f"kernel {kernel.name} takes {len(names)} argument(s): {', '.join(names)}",
                param_hint="ARGS",
            )
        raw[position] = argument
    return raw


def _kind(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def _qualified(function: Any) -> str:
    module = getattr(function, "__module__", None) or "?"
    return f"{module}:{getattr(function, '__qualname__', repr(function))}"


# -- check ---------------------------------------------------------------------------------


@cli.command("check")
@click.argument("kernel_name", metavar="[KERNEL]", required=False)
@click.option(
    "--examples",
    "max_examples",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Generated inputs per kernel.",
)
@click.option("--from-shadow", "from_shadow", is_flag=True,
              help="Replay the inputs shadow mode recorded as mismatches "
              "(RUSTPATH_SHADOW_RECORD) instead of generating any.")  # fmt: skip
def check_command(kernel_name: str | None, max_examples: int, from_shadow: bool) -> None:
    """Check that Python and Rust agree, on each kernel's examples, the built-in
    multilingual corpus and generated inputs.

    Inputs come from the kernel's ``strategy=`` or its parameters' type annotations;
    text draws on every Unicode category, Indic vowel signs, digits of every script,
    case mappings, direction marks, emoji sequences and sentences in many scripts.
    The same inputs are drawn on every run. Exits 1 if any kernel disagrees, showing
    the (shrunk) failing input, or if its inputs cannot be generated.

    With --from-shadow, replays what shadow mode recorded in production instead, and
    exits 1 if any recorded input still disagrees.
    """
    _, state = app_state()
    if kernel_name:
        _kernel(state, kernel_name)  # a did-you-mean for a misspelt name
    if from_shadow:  # replays recorded inputs: generates none, needs no hypothesis
        _replay_shadow(state, kernel_name)
        return
    require("hypothesis", "flask rustpath check")
    # Only this command checks parity: a worker that loads the CLI does not load it.
    from .core.parity import NoStrategy, ParityError, check_parity

    kernels = [_kernel(state, kernel_name)] if kernel_name else list(state.kernels.values())
    failed = False
    for kernel in kernels:
        try:
            checked = check_parity(state, kernel, max_examples=max_examples)
        except ParityError as exc:
            failed = True
            click.echo(f"FAIL  {exc}")  # the message starts with the kernel's name
        except NoStrategy as exc:
            failed = True
            click.echo(f"FAIL  {kernel.name}: cannot generate inputs: {exc}")
        else:
            click.echo(f"ok    {kernel.name}: {checked} inputs agree")
    if failed:
        raise SystemExit(1)


def _replay_shadow(state: RustPathState, kernel_name: str | None) -> None:
    from .core.parity import replay_record

    path = state.settings.shadow_record
    if path is None:
        raise ConfigError("--from-shadow: set RUSTPATH_SHADOW_RECORD, where shadow mode "
                          "records its mismatches")  # fmt: skip
    if not Path(path).exists():
        click.echo(f"no shadow mismatches recorded: {path} does not exist")
        return
    replayed = replay_record(state, Path(path), kernel_name)
    for item in replayed:
        entry = item.entry
        cut = f" (cut: {', '.join(entry.truncated)})" if entry.truncated else ""
        if item.disagreement is not None:
            click.echo(f"FAIL  {item.disagreement}{cut}")
        elif item.skipped is not None:
            click.echo(f"skip  {entry.kernel}: {item.skipped}")
        else:
            note = "; it was cut, so the whole input may still disagree" if cut else ""
            click.echo(f"ok    {entry.kernel}: {entry.inputs!r} agrees now{cut}{note}")
    failed = sum(item.disagreement is not None for item in replayed)
    click.echo(f"{len(replayed)} recorded mismatches replayed from {path}, {failed} disagree")
    if failed:
        raise SystemExit(1)


# -- bench ---------------------------------------------------------------------------------


@cli.command("bench")
@click.argument("route_names", nargs=-1, metavar="[ROUTE]...")
@click.option("--url", "urls", multiple=True, metavar="/PATH",
              help="A plain URL of a paired view to load too (repeatable).")  # fmt: skip
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
@access_options
def bench_command(
    route_names: tuple[str, ...],
    urls: tuple[str, ...],
    app_spec: str | None,
    concurrency: str,
    duration: float,
    workers: int,
    threads: int,
    headers: tuple[str, ...],
    cookies: tuple[str, ...],
    login_path: str | None,
    form_fields: tuple[str, ...],
) -> None:
    """Load /python and /rust of JSON routes and paired views with hey, under real gunicorn.

    ROUTE is a JSON shorthand route's endpoint or kernel name (default: every one,
    unless --url is given); each is requested with GET at its kernel's first
    ``examples=`` entry. --url /PATH adds a paired view's plain URL, requested at
    /python/PATH and /rust/PATH. Every request carries the -H headers and the cookies
    of --cookie and --login (logged in through the app in this process, before
    gunicorn starts). Loopback only, for a bounded time per URL. Redirects are never
    followed: a URL that answers a 3xx or 4xx to one request first (a login page, a
    401) is not loaded at all. Prints requests per second of each side and their
    ratio; exits 1 if any response was not a 2xx (a failed row is no measurement).
    """
    require("gunicorn", "flask rustpath bench")
    if hey.hey_path() is None:
        raise click.ClickException("hey is not installed (Debian/Ubuntu: apt-get install hey)")
    levels = _concurrencies(concurrency)
    spec = app_spec or _gunicorn_app(click.get_current_context().find_object(ScriptInfo))
    if not spec:
        raise click.ClickException("say what gunicorn should serve: --serve 'myapp:create_app()'")
    app, state = app_state()
    sent = credentials(app, headers, cookies, login_path, form_fields)
    plan = _route_plan(app, state, route_names, default=not urls)
    for url in urls:
        if not url.startswith("/"):
            raise click.BadParameter(f"expected a path like /blog/stats/3, got {url!r}")
        paired_endpoint(app, url)
        plan += [(url, side, state.settings.prefix(side) + url) for side in SIDES]
    if not plan:
        raise click.ClickException(
            "nothing to benchmark: no JSON route has examples= (give a paired view with --url)"
        )
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
                    refused = access.probe(base, path, sent)
                    if refused is not None:
                        step += len(levels)
                        failed = True
                        click.echo(f"      FAILED: {path} not measured: it answered {refused}",
                                   err=True)  # fmt: skip
                        continue
                    for level in levels:
                        step += 1
                        click.echo(
                            f"[{step}/{steps}] hey {path} c={level} {duration:g} s …", err=True
                        )
                        try:
                            summary = hey.run(
                                base + path,
                                concurrency=level,
                                duration_s=duration,
                                headers=sent.header_lines(),
                            )
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


@cli.command("serve")
@click.option(
    "--bind",
    "-b",
    default="127.0.0.1:8000",
    show_default=True,
    metavar="HOST:PORT",
    help="The front's public address.",
)
@click.option(
    "--workers",
    "-w",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes behind the front.",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads per gunicorn worker.",
)
@click.option(
    "--io-threads",
    default=None,
    show_default="half the CPUs, at least 1",
    type=click.IntRange(1, 64),
    help="Threads of the front serving HTTP.",
)
@click.option(
    "--health-path",
    default="/healthz",
    show_default=True,
    metavar="/PATH",
    help="Answered by the front with its own state and the app's answer there.",
)
@click.option(
    "--max-body",
    default="16MiB",
    show_default=True,
    metavar="SIZE",
    help="Largest request body the front reads before it answers 413: bytes, or a "
    "number with KiB, MiB or GiB.",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    type=click.FloatRange(min=0.1, max=3600),
    help="Time a client has to send a request's head; then 408 and close.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Write a line per request, native or proxied, to stdout (gunicorn's is off).",
)
@click.option(
    "--graceful-timeout",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    type=click.FloatRange(min=0, max=3600),
    help="Time requests in flight have to finish once the front stops accepting.",
)
@click.option(
    "--drain-delay",
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    type=click.FloatRange(min=0, max=3600),
    help="After SIGTERM, keep serving this long with the health URL answering 503 "
    "draining, so load balancers stop sending requests first; then stop gracefully. "
    "SIGINT or a second SIGTERM skips it.",
)
def serve_command(
    bind: str,
    workers: int,
    threads: int,
    io_threads: int | None,
    health_path: str,
    max_body: str,
    header_timeout: float,
    graceful_timeout: float,
    drain_delay: float,
    access_log: bool,
) -> None:
    """Serve the app through the Rust front, with gunicorn behind it on a Unix socket.

    JSON shorthand routes whose Rust side has a native entry point are answered by the
    front with no Python; everything else is proxied to gunicorn after the request has
    been read in full. SIGTERM drains both gracefully, after --drain-delay.
    """
    require("gunicorn", "flask rustpath serve")
    from .serving.front import FrontOptions, default_io_threads, parse_size, serve

    spec = _gunicorn_app(click.get_current_context().find_object(ScriptInfo))
    if not spec:
        raise click.ClickException("say which app to serve: flask --app 'myapp:create_app()' …")
    if not health_path.startswith("/"):
        raise click.BadParameter(f"expected a path like /healthz, got {health_path!r}")
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {bind!r}", param_hint="--bind")
    try:
        max_body_bytes = parse_size(max_body)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--max-body") from None
    app, _ = app_state()
    options = FrontOptions(
        max_body_bytes=max_body_bytes,
        bind=bind,
        io_threads=io_threads or default_io_threads(),
        health_path=health_path,
        header_timeout_s=header_timeout,
        graceful_timeout_s=graceful_timeout,
        drain_delay_s=drain_delay,
        access_log=access_log,
    )
    try:
        status = serve(app, spec, options, workers=workers, threads=threads)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    if status:
        raise SystemExit(f"gunicorn exited with status {status}")


def _route_plan(
    app: Flask, state: RustPathState, names: tuple[str, ...], *, default: bool
) -> list[tuple[str, str, str]]:
    """(row name, side, URL) for each JSON route to load, at its kernel's first example."""
    if names:
        routes = [_json_route(state, name) for name in names]
    elif default:
        routes = list(state.routes.items())
    else:
        routes = []
    plan: list[tuple[str, str, str]] = []
    with app.test_request_context():
        for endpoint, route in routes:
            examples = route.kernel.examples
            if not examples:
                click.echo(f"skip  {endpoint}: its kernel has no examples= to request", err=True)
                continue
            if "GET" not in route.methods:
                click.echo(f"skip  {endpoint}: answers {', '.join(route.methods)}, not GET",
                           err=True)  # fmt: skip
                continue
            url_names = {variable.name for variable in rule_variables(route.rule)}
            example = dict(examples[0])
            if any(
                not isinstance(value, (int, float, str, bool))
                for name, value in example.items()
                if name not in url_names
            ):
                click.echo(f"skip  {endpoint}: its example does not fit in a GET URL", err=True)
                continue
            for side in SIDES:
                plan.append((endpoint, side, url_for(endpoint, side=side, **example)))
    return plan


def _json_route(state: RustPathState, name: str) -> tuple[str, HotRoute]:
    """A JSON route and its endpoint, by endpoint or by its kernel's name when exactly
    one route has that kernel."""
    if name in state.routes:
        return name, state.routes[name]
    matches = [(e, route) for e, route in state.routes.items() if route.kernel.name == name]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(state.routes)) or "none"
    raise click.BadParameter(f"no JSON route {name!r}; known: {known}", param_hint="ROUTE")


def _gunicorn_app(info: ScriptInfo | None) -> str | None:
    """What ``--app`` named, spelt for gunicorn: a bare module becomes ``module:app`` or
    ``module:create_app()``, the names Flask itself looks for first."""
    path = info.app_import_path if info is not None else None
    if not path:
        return None
    # Flask also takes a file (`app.py`, `src/app.py:create_app()`); gunicorn a module.
    target, colon, attribute = path.partition(":")
    module_name = target.removesuffix(".py").replace("/", ".")
    if colon:
        return f"{module_name}:{attribute}"
    module = sys.modules.get(module_name)
    for name in ("app", "application"):
        if module is not None and isinstance(getattr(module, name, None), Flask):
            return f"{module_name}:{name}"
    for name in ("create_app", "make_app"):
        if module is not None and callable(getattr(module, name, None)):
            return f"{module_name}:{name}()"
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
