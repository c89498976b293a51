"""The dashboard: every kernel of an app, its live counts, and a compare form with a chart.

Served at ``<RUSTPATH_URL_PREFIX>/`` on the extension's blueprint, behind the same
switch as the compare endpoint (``RUSTPATH_COMPARE``, on in debug mode by default, or
when ``RUSTPATH_DASHBOARD_DECORATOR`` guards it), because its form runs the slow
Python reference on request. Its counts are every worker's when Prometheus's
multiprocess mode is on, else the answering process's (the page says which). It is plain
server-rendered HTML: a GET form per kernel whose inputs follow the kernel's parameter
annotations, an inline SVG chart drawn here, no JavaScript and nothing fetched from
elsewhere, so it works on an air-gapped box and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, render_template, request
from markupsafe import Markup
from werkzeug.routing import BaseConverter, ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from .core.comparison import Comparison, compare_sides
from .core.errors import HotRouteError, MissingParameter, NotEnabled
from .core.parameters import TEXT_KINDS, Parameter, arguments_from_text, kernel_parameters
from .core.sides import SIDES
from .core.spec import KernelSpec
from .pairing import is_paired, plain_rules
from .state import RustPathState, get_state
from .support.docstrings import summary_html
from .support.metrics import SHADOW_OUTCOMES, all_workers_counts
from .support.rules import rule_variables
from .support.targets import TargetUnavailable

ENDPOINT = "rustpath.dashboard"
# The query parameter naming the kernel to compare. It has a hyphen so that it can
# never collide with a kernel's parameter, which must be a Python identifier.
KERNEL_FIELD = "compare-kernel"
TEMPLATE = "rustpath/dashboard.html"

# Results longer than this are cut in the page; the compare endpoint has them whole.
RESULT_CHARS = 200
TIMES = "\u00d7"  # the multiplication sign, spelled out so that linters do not take it for x


def dashboard_view() -> tuple[str, int] | WerkzeugResponse:
    """The page; with ``?compare-kernel=<name>&<parameter>=<value>…`` it also runs a
    comparison.

    The status is 400 for input that does not fit the kernel, the error's own status
    when a comparison is refused for a client error (422 above a limit), and 200
    otherwise: when an implementation fails (500, 503) the page itself still worked
    and reports that status in its body.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state = get_state(app)
    hidden = compare_hidden(state)
    if hidden is not None:
        return hidden
    selected = request.args.get(KERNEL_FIELD)
    outcome: Outcome | None = None
    if selected is not None:
        outcome = run_comparison(state, selected, request.args)
    counts = all_workers_counts(state.metrics)
    rows = [
        kernel_row(state, kernel, counts.by_kernel.get(kernel.name, {}), selected, request.args)
        for kernel in state.kernels.values()
    ]
    page = render_template(
        TEMPLATE,
        rows=rows,
        views=paired_views(app, state),
        outcome=outcome,
        kernel_field=KERNEL_FIELD,
        app_name=app.name,
        metrics_url=_metrics_url(app),
        counts=counts,
    )
    return page, outcome.status if outcome is not None else 200


# -- the kernel table ------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    """One input of a kernel's compare form."""

    name: str
    kind: str  # "int", "str", "list[int] as JSON", … shown as the placeholder
    numeric: bool
    required: bool
    value: str  # what the input is pre-filled with


@dataclass(frozen=True)
class SideCounts:
    """One side's live counts, already formatted for the page."""

    requests: int
    errors: int
    error_detail: str  # "limit_exceeded: 2, bad_input: 1"
    mean: str  # "12.3 ms" or "—"


@dataclass(frozen=True)
class KernelRow:
    name: str
    doc: Markup  # the docstring's summary, its reST literals and roles as <code>
    python: str  # module:qualname
    rust: str  # the target spec
    rust_available: bool
    rust_reason: str | None  # why the target does not import
    backend: str
    backend_note: str | None  # fallback or shadow rate
    counts: dict[str, SideCounts]
    shadow: list[tuple[str, int]]  # non-zero outcomes only
    fallbacks: int
    routes: list[str]  # rules of the JSON shorthand routes that call it
    arguments: list[Argument] = field(default_factory=list)
    form_error: str | None = None  # why the form cannot be offered


@dataclass(frozen=True)
class PairedView:
    endpoint: str
    rule: str
    python: str  # the variants' rules
    rust: str


def kernel_row(
    state: RustPathState,
    kernel: KernelSpec,
    stats: Mapping[str, Any],
    selected: str | None,
    submitted: Mapping[str, str],
) -> KernelRow:
    """What the page shows for ``kernel``."""
    rust_reason = None
    try:
        kernel.rust.resolve()
    except TargetUnavailable as exc:
        rust_reason = exc.reason
    settings = state.settings_for(kernel)
    backend_note = None
    if settings.backend != "python" and rust_reason is not None:
        backend_note = "Rust does not import: Python answers"
    elif settings.backend == "shadow":
        backend_note = f"{settings.shadow_rate:.0%} compared"
    shadow = stats.get("shadow", {})
    arguments: list[Argument] = []
    form_error = None
    try:
        arguments = form_arguments(kernel, submitted if selected == kernel.name else None)
    except TypeError as exc:  # positional-only parameters: nothing to name in a form
        form_error = str(exc)
    return KernelRow(
        name=kernel.name,
        doc=summary_html(getattr(kernel.python, "__doc__", None)),
        python=_qualified_name(kernel.python),
        rust=kernel.rust.spec,
        rust_available=rust_reason is None,
        rust_reason=rust_reason,
        backend=settings.backend,
        backend_note=backend_note,
        counts={side: _side_counts(stats.get(side)) for side in SIDES},
        shadow=[(o, shadow[o]) for o in SHADOW_OUTCOMES if shadow.get(o)],
        fallbacks=stats.get("fallbacks", 0),
        routes=[
            route_rule(state, endpoint)
            for endpoint, route in state.routes.items()
            if route.kernel is kernel
        ],
        arguments=arguments,
        form_error=form_error,
    )


def paired_views(app: Flask, state: RustPathState) -> list[PairedView]:
    """Every paired view of the app, with the rules of its two variants."""
    return [
        PairedView(
            rule.endpoint,
            rule.rule,
            state.settings.prefix("python") + rule.rule,
            state.settings.prefix("rust") + rule.rule,
        )
        for rule in plain_rules(app.url_map)
        if is_paired(app.view_functions.get(rule.endpoint))
    ]


def form_arguments(kernel: KernelSpec, submitted: Mapping[str, str] | None) -> list[Argument]:
    """The kernel's inputs in parameter order, pre-filled with what was submitted, else
    its first example, else the parameter's default."""
    example = kernel.examples[0] if kernel.examples else {}
    arguments = []
    for parameter in kernel_parameters(kernel):
        signature_parameter = kernel.signature.parameters[parameter.name]
        has_default = signature_parameter.default is not signature_parameter.empty
        if submitted is not None:
            value = submitted.get(parameter.name, "")
        elif parameter.name in example:
            value = as_text(parameter, example[parameter.name])
        elif has_default:
            value = as_text(parameter, parameter.default)
        else:
            value = ""
        arguments.append(
            Argument(
                name=parameter.name,
                kind=_kind_label(parameter.kind),
                numeric=parameter.kind in (int, float),
                required=not has_default,
                value=value,
            )
        )
    return arguments


def as_text(parameter: Parameter, value: Any) -> str:
    """``value`` as the form would submit it for ``parameter``."""
    if parameter.kind is bool or isinstance(value, bool):
        return "true" if value else "false"
    if parameter.kind in TEXT_KINDS and isinstance(value, (str, int, float)):
        return str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _kind_label(kind: Any) -> str:
    label = getattr(kind, "__name__", None) if isinstance(kind, type) else None
    label = label or str(kind).replace("typing.", "")
    return label if kind in TEXT_KINDS else f"{label} as JSON"


def route_rule(state: RustPathState, endpoint: str) -> str:
    """A JSON route's rule as the app serves it, with its blueprint's URL prefix
    (``/rustpath/sum_of_primes/<int:n>`` for a built-in), not as it was declared."""
    try:
        rules = [rule.rule for rule in plain_rules(state.url_map, endpoint)]
    except KeyError:  # not registered on this app (yet)
        rules = []
    return rules[0] if rules else state.routes[endpoint].rule


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


def _metrics_url(app: Flask) -> str | None:
    return next(
        (rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "rustpath.metrics"),
        None,
    )


# -- a tool's arguments -------------------------------------------------------------------


def tool_arguments(
    app: Flask,
    state: RustPathState,
    kernel: KernelSpec,
    raw: Mapping[str, str],
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``kernel``'s arguments for a tool (the compare endpoint, the dashboard's form,
    ``flask rustpath compare``), as its JSON routes would receive them.

    ``raw`` is text (a query string, a form, a command line) converted by each
    parameter's annotation, JSON for a ``list`` or ``dict``; ``body`` is a JSON object
    (a POST), checked against the annotations. A parameter without an annotation that
    is a variable of one of the kernel's JSON routes is converted by that route's URL
    converter, as Flask converts it when the route is called: ``"3"`` is ``3`` for
    ``<int:n>``, not the text ``"3"`` the view never receives.
    """
    converters = route_converters(app, state, kernel)
    annotated = {p.name for p in kernel_parameters(kernel) if p.kind is not Any}
    converted: dict[str, Any] = {}
    for name, (converter, rule) in converters.items():
        if name in annotated:
            continue
        value = body.get(name) if body is not None and name in body else raw.get(name)
        if not isinstance(value, str):
            continue  # missing, or a JSON number: checked as a JSON body is
        try:
            converted[name] = converter.to_python(value)
        except (ValidationError, ValueError):
            raise MissingParameter(
                f"parameter {name!r} must fit {rule}; got {value!r}",
                kernel=kernel.name,
                parameter=name,
            ) from None
    return arguments_from_text(kernel, raw, {**(body or {}), **converted})


def route_converters(
    app: Flask, state: RustPathState, kernel: KernelSpec
) -> dict[str, tuple[BaseConverter, str]]:
    """The URL converter (and the rule) of each variable of ``kernel``'s JSON routes on
    ``app`` that names one: ``{"n": (IntegerConverter, "/square/<int:n>")}``."""
    endpoints = {endpoint for endpoint, route in state.routes.items() if route.kernel is kernel}
    found: dict[str, tuple[BaseConverter, str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in endpoints:
            continue
        for variable in rule_variables(rule.rule):
            factory = app.url_map.converters.get(variable.converter)
            if variable.converter == "default" or factory is None or variable.name in found:
                continue
            converter = factory(app.url_map, *variable.args, **variable.kwargs)
            found[variable.name] = (converter, rule.rule)
    return found


# -- running a comparison ---------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A comparison that ran (``comparison`` and ``chart``) or the reason it did not."""

    kernel: str
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


def run_comparison(state: RustPathState, name: str, submitted: Mapping[str, str]) -> Outcome:
    """Convert the submitted strings and run both sides in-process, limits included."""
    kernel = state.kernels.get(name)
    raw = {k: v for k, v in submitted.items() if k != KERNEL_FIELD}
    raw_call = _call(name, raw)
    if kernel is None:
        message = f"there is no kernel named {name!r} on this app"
        return Outcome(name, raw_call, 400, error=message, error_code="invalid_input")
    try:
        kwargs = tool_arguments(current_app, state, kernel, raw)
    except HotRouteError as err:
        return Outcome(name, raw_call, 400, error=err.message, error_code=err.error,
                       error_status=err.code)  # fmt: skip
    except TypeError as err:
        return Outcome(name, raw_call, 400, error=str(err), error_code="invalid_input")
    call = _call(name, kwargs)
    try:
        comparison = compare_sides(state, kernel, kwargs)
    except HotRouteError as err:
        status = err.code or 500
        return Outcome(
            name,
            call,
            status if 400 <= status < 500 else 200,
            error=err.message,
            error_code=err.error,
            error_status=status,
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
        for i, side in enumerate(SIDES)
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


def compare_hidden(state: RustPathState) -> WerkzeugResponse | None:
    """The 404 that the dashboard and compare answer while they are off, or ``None``.

    Returned, not raised: a raised 404 goes through the app's error handlers, and an
    app's own ``@app.errorhandler(404)`` page would replace the message that says how
    to turn them on. They are on when ``RUSTPATH_COMPARE`` says so; left at ``None``,
    in debug mode, or when ``RUSTPATH_DASHBOARD_DECORATOR`` guards them.
    """
    enabled = state.settings.compare
    if enabled is None:
        enabled = current_app.debug or state.settings.dashboard_decorator is not None
    if enabled:
        return None
    return NotEnabled(
        "the compare endpoints are off; set RUSTPATH_COMPARE = True, or guard them with "
        "RUSTPATH_DASHBOARD_DECORATOR"
    ).get_response()
