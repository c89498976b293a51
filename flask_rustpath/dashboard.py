"""The dashboard: every hot route of an app, its live counts, and a compare form with a chart.

Served at ``<RUSTPATH_URL_PREFIX>/`` behind the same switch as the compare endpoint
(``RUSTPATH_COMPARE``, on in debug mode by default), because its form runs the slow
Python implementation on request. It is plain server-rendered HTML: a GET form, an
inline SVG chart drawn here, no JavaScript and nothing fetched from elsewhere, so it
works on an air-gapped box and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request

from . import config
from .comparison import Comparison, compare_sides
from .errors import HotRouteError, NotEnabled
from .hot import HotRoute, rule_variables
from .metrics import SHADOW_OUTCOMES
from .state import get_state
from .targets import TargetUnavailable

ENDPOINT = "rustpath.dashboard"
# The query parameter naming the route to compare. It has a hyphen so that it can
# never collide with a rule variable, which must be a Python identifier.
ROUTE_FIELD = "hot-route"
TEMPLATE = "rustpath/dashboard.html"

# Registered only for its template folder: the page must render in any user app, whose
# own template folder does not hold ours (a user template of the same name still wins,
# which is Flask's way of overriding an extension's templates).
_templates = Blueprint("rustpath_dashboard", __name__, template_folder="templates")

# Results longer than this are cut in the page; the compare endpoint has them whole.
RESULT_CHARS = 200
TIMES = "\u00d7"  # the multiplication sign, spelled out so that linters do not take it for x


def register_dashboard(app: Flask) -> None:
    """Serve the dashboard at ``<RUSTPATH_URL_PREFIX>/`` as endpoint ``rustpath.dashboard``.

    Called from :meth:`RustPath.init_app`, after the hot routes are registered. The rule
    is always added; whether it answers is decided per request, so tests and app
    factories may switch ``RUSTPATH_COMPARE`` after ``init_app`` like the compare
    endpoint. Calling it again on the same app does nothing.
    """
    if ENDPOINT in app.view_functions:
        return
    app.register_blueprint(_templates)
    app.add_url_rule(config.prefix(app.config, "url") + "/", ENDPOINT, dashboard_view)


def dashboard_view() -> Response | tuple[str, int]:
    """The page; with ``?hot-route=<name>&<argument>=<value>…`` it also runs a comparison.

    The status is 400 for input that does not fit the route, the error's own status
    when a comparison is refused for a client error (422 above a limit), and 200
    otherwise: when an implementation fails (500, 503) the page itself still worked
    and reports that status in its body.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if not config.compare_enabled(app.config, app.debug):
        return NotEnabled("the dashboard is off; set RUSTPATH_COMPARE = True").to_response()
    state = get_state(app)
    selected = request.args.get(ROUTE_FIELD)
    outcome: Outcome | None = None
    if selected is not None:
        outcome = run_comparison(app, selected, request.args)
    rows = [route_row(app, route, selected, request.args) for route in state.routes.values()]
    page = render_template(
        TEMPLATE,
        rows=rows,
        outcome=outcome,
        route_field=ROUTE_FIELD,
        app_name=app.name,
        metrics_url=_metrics_url(app),
    )
    return page, outcome.status if outcome is not None else 200


# -- the route table -------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    """One input of a route's compare form."""

    name: str
    converter: str  # "int", "string", … shown as the placeholder
    value: str  # what the input is pre-filled with


@dataclass(frozen=True)
class SideCounts:
    """One side's live counts, already formatted for the page."""

    requests: int
    errors: int
    error_detail: str  # "limit_exceeded: 2, bad_input: 1"
    mean: str  # "12.3 ms" or "—"


@dataclass(frozen=True)
class RouteRow:
    name: str
    rule: str
    doc: str
    python: str  # module:qualname
    rust: str  # the target spec
    rust_available: bool
    rust_reason: str | None  # why the target does not import
    backend: str | None  # None when the configuration is broken
    backend_note: str | None  # fallback or shadow rate
    backend_error: str | None
    counts: dict[str, SideCounts]
    shadow: list[tuple[str, int]]  # non-zero outcomes only
    arguments: list[Argument] = field(default_factory=list)


def route_row(
    app: Flask, route: HotRoute, selected: str | None, submitted: Mapping[str, str]
) -> RouteRow:
    """What the page shows for ``route``; a broken setting becomes an error cell, not a 500."""
    rust_reason = None
    try:
        route.rust.resolve()
    except TargetUnavailable as exc:
        rust_reason = exc.reason
    backend: str | None = None
    backend_note = backend_error = None
    try:
        backend = config.backend_for(app.config, route)
        if backend != "python" and rust_reason is not None:
            backend_note = "Rust does not import: Python answers"
        elif backend == "shadow":
            backend_note = f"{config.shadow_rate_for(app.config, route):.0%} compared"
    except HotRouteError as err:
        backend_error = err.message
    stats = get_state(app).metrics.snapshot().get(route.name, {})
    shadow = stats.get("shadow", {})
    return RouteRow(
        name=route.name,
        rule=route.rule,
        doc=_summary(route.python),
        python=_qualified_name(route.python),
        rust=route.rust.spec,
        rust_available=rust_reason is None,
        rust_reason=rust_reason,
        backend=backend,
        backend_note=backend_note,
        backend_error=backend_error,
        counts={side: _side_counts(stats.get(side)) for side in config.SIDES},
        shadow=[(o, shadow[o]) for o in SHADOW_OUTCOMES if shadow.get(o)],
        arguments=_form_arguments(route, submitted if selected == route.name else None),
    )


def _summary(function: Any) -> str:
    """The docstring's first line, without reST's double backquotes (the page is not reST)."""
    lines = (getattr(function, "__doc__", None) or "").strip().splitlines()
    return lines[0].replace("``", "") if lines else ""


def _qualified_name(function: Any) -> str:
    module = getattr(function, "__module__", None) or "?"
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}:{name}"


def _side_counts(stats: Mapping[str, Any] | None) -> SideCounts:
    if not stats:
        return SideCounts(0, 0, "", "—")
    errors = stats["errors"]
    detail = ", ".join(f"{code}: {n}" for code, n in sorted(errors.items()))
    mean = stats["mean_ms"]
    return SideCounts(
        stats["requests"], sum(errors.values()), detail, "—" if mean is None else format_ms(mean)
    )


def _form_arguments(route: HotRoute, submitted: Mapping[str, str] | None) -> list[Argument]:
    """The route's inputs, in rule order: what was submitted, else its first example."""
    example = route.examples[0] if route.examples else {}
    arguments = []
    for variable in rule_variables(route.rule):
        name = variable.name
        if submitted is not None:
            value = submitted.get(name, "")
        else:
            value = "" if example.get(name) is None else str(example[name])
        converter = "string" if variable.converter == "default" else variable.converter
        arguments.append(Argument(name, converter, value))
    return arguments


def _metrics_url(app: Flask) -> str | None:
    return next(
        (rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "rustpath.metrics"),
        None,
    )


# -- running a comparison ---------------------------------------------------------------


class InvalidInput(Exception):
    """The form does not name a route or its arguments do not fit the route's converters."""


@dataclass(frozen=True)
class Outcome:
    """A comparison that ran (``comparison`` and ``chart``) or the reason it did not."""

    route: str
    call: str  # "sum_of_primes(n=100000)", or what was submitted when it did not convert
    status: int  # the HTTP status of the page
    comparison: Comparison | None = None
    chart: Chart | None = None
    verdict: str = ""  # "Rust is 85.3x faster", with a multiplication sign
    python_result: str = ""
    rust_result: str = ""
    error: str | None = None
    error_code: str | None = None
    error_status: int | None = None  # the status the compare endpoint would answer with


def run_comparison(app: Flask, name: str, submitted: Mapping[str, str]) -> Outcome:
    """Convert the submitted strings and run both sides in-process, limits included."""
    route = get_state(app).routes.get(name)
    raw_call = _call(name, {k: v for k, v in submitted.items() if k != ROUTE_FIELD})
    try:
        if route is None:
            raise InvalidInput(f"there is no hot route named {name!r} on this app")
        kwargs = convert_arguments(app, route, submitted)
    except InvalidInput as exc:
        return Outcome(
            name, raw_call, 400, error=str(exc), error_code="invalid_input", error_status=400
        )
    call = _call(name, kwargs)
    try:
        comparison = compare_sides(route, kwargs)
    except HotRouteError as err:
        return Outcome(
            name,
            call,
            err.status if 400 <= err.status < 500 else 200,
            error=err.message,
            error_code=err.code,
            error_status=err.status,
        )
    return Outcome(
        name,
        call,
        200,
        comparison=comparison,
        chart=bar_chart(comparison.python.seconds * 1000, comparison.rust.seconds * 1000),
        verdict=_verdict(comparison.speedup),
        python_result=_shorten(repr(comparison.python.result)),
        rust_result=_shorten(repr(comparison.rust.result)),
    )


def convert_arguments(app: Flask, route: HotRoute, submitted: Mapping[str, str]) -> dict[str, Any]:
    """The route's keyword arguments from form strings, converted as its URL would be."""
    try:
        return get_state(app).parse_arguments(app, route, submitted)
    except HotRouteError as err:
        raise InvalidInput(err.message) from None


def _call(name: str, arguments: Mapping[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


def _verdict(speedup: float | None) -> str:
    if speedup is None:
        return "Rust took no measurable time"
    if speedup >= 1:
        return f"Rust is {speedup:,.1f}{TIMES} faster"
    return f"Python is {1 / speedup:,.1f}{TIMES} faster"


def _shorten(text: str) -> str:
    return text if len(text) <= RESULT_CHARS else text[: RESULT_CHARS - 1] + "…"


def format_ms(ms: float) -> str:
    """A duration in milliseconds to three significant digits, never in e-notation."""
    if ms <= 0:
        return "0 ms"
    digits = max(0, 2 - math.floor(math.log10(ms)))
    return f"{ms:,.{digits}f} ms"


# -- the chart ---------------------------------------------------------------------------

# Geometry of the SVG in its own units; the page scales it to the width available.
CHART_WIDTH = 640
PLOT_LEFT = 72  # room for the side names
PLOT_WIDTH = 420  # the rest is room for the value labels
PLOT_TOP = 40  # below the title
BAR_HEIGHT = 28
BAR_GAP = 14
MIN_BAR = 3.0  # no bar is thinner than this, whatever the times
FLOOR_MS = 1e-6  # a time of zero (a clock too coarse) is drawn as 1 ns
SIDE_NAMES = {"python": "Python", "rust": "Rust"}
CHART_TITLE = f"Compute time per call, log scale: each gridline is 10{TIMES} the one before"


@dataclass(frozen=True)
class Bar:
    side: str
    name: str  # "Python"
    value: str  # "41.2 ms"
    y: float
    width: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str  # "1 ms"


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the SVG; numbers only, so nothing to escape."""

    title: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    axis_y: int
    bar_height: int
    bars: list[Bar]
    ticks: list[Tick]


def bar_chart(python_ms: float, rust_ms: float) -> Chart:
    """One horizontal bar per side on a logarithmic axis in whole decades.

    On a linear axis a Rust call 1000 times faster would be a one-pixel sliver. Here the
    axis starts a whole decade below the faster time, so the shorter bar is at least
    one decade long, and the ratio of the times reads as the number of gridlines
    between the bar ends.
    """
    measured = {"python": python_ms, "rust": rust_ms}
    drawn = {side: max(ms, FLOOR_MS) for side, ms in measured.items()}
    low = math.floor(math.log10(min(drawn.values()))) - 1
    high = max(math.ceil(math.log10(max(drawn.values()))), low + 2)
    if high - low > 8 and (high - low) % 2:
        low -= 1  # an even span, so labelling every other decade still labels both ends
    span = high - low

    def offset(log_ms: float) -> float:
        return PLOT_WIDTH * (log_ms - low) / span

    bars = [
        Bar(
            side=side,
            name=SIDE_NAMES[side],
            value=format_ms(measured[side]),
            y=PLOT_TOP + i * (BAR_HEIGHT + BAR_GAP),
            width=round(max(MIN_BAR, offset(math.log10(drawn[side]))), 1),
        )
        for i, side in enumerate(config.SIDES)
    ]
    axis_y = PLOT_TOP + len(bars) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP // 2
    step = 1 if span <= 8 else 2  # keep the tick labels apart on wide ranges
    ticks = [
        Tick(round(PLOT_LEFT + offset(exponent), 1), _decade_label(exponent))
        for exponent in range(low, high + 1)
        if (exponent - low) % step == 0
    ]
    return Chart(
        title=CHART_TITLE,
        width=CHART_WIDTH,
        height=axis_y + 26,
        plot_left=PLOT_LEFT,
        plot_right=PLOT_LEFT + PLOT_WIDTH,
        plot_top=PLOT_TOP - BAR_GAP // 2,
        axis_y=axis_y,
        bar_height=BAR_HEIGHT,
        bars=bars,
        ticks=ticks,
    )


def _decade_label(ms_exponent: int) -> str:
    """``10**ms_exponent`` milliseconds in the unit that makes it 1, 10 or 100: ``100 µs``."""
    seconds_exponent = ms_exponent - 3
    unit_exponent = min(0, max(-9, 3 * math.floor(seconds_exponent / 3)))
    unit = {-9: "ns", -6: "µs", -3: "ms", 0: "s"}[unit_exponent]
    return f"{10.0 ** (seconds_exponent - unit_exponent):g} {unit}"
