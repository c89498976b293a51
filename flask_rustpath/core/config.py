"""The ``RUSTPATH_*`` configuration keys, read and checked once at ``init_app``.

Where a value comes from, highest first:

1. ``app.config`` as the app set it before ``init_app``;
2. ``RUSTPATH_*`` environment variables, parsed as JSON where they parse
   (``RUSTPATH_BACKEND=python`` stays a string, ``RUSTPATH_BUILTINS=true`` is ``True``);
3. the defaults below.

Per-kernel settings combine, highest first: the per-kernel config entry
(``RUSTPATH_BACKENDS["name"]``), the kernel's own decorator argument, the global key.
Each kernel's effective settings are computed once, when it is registered on the app
(:func:`resolve`); nothing is parsed per request. An unknown or misspelt
``RUSTPATH_*`` key is refused with the closest known one.

The kernel names inside the per-kernel dicts (:data:`PER_KERNEL_KEYS`) are checked
later, by :func:`check_kernel_names`: kernels may be declared after ``init_app`` (in
the modules of blueprints the factory imports after it), so at ``init_app`` a name
that no kernel has yet may still be a right one. The Flask side checks them once
every kernel is known: on the app's first request, and before every ``flask
rustpath`` command.

A limit on a number is a bound on its value; a limit on a ``str``, ``bytes`` or
``list`` parameter (by its annotation) bounds its length, so it must be a whole number.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from .errors import Misconfigured
from .parameters import is_sized_kind, type_hints
from .sides import BACKENDS, SIDES, Backend, Side
from .spec import KernelSpec


@dataclass(frozen=True)
class Setting:
    """One ``RUSTPATH_*`` key: its default, the type of its values and what it means.

    ``meaning`` is reST: the documentation's configuration page is generated from
    :data:`SETTINGS` and :data:`PROCESS_SETTINGS`, so it cannot drift from the code."""

    default: Any
    type: str
    meaning: str


#: Every app setting, by key, in the order the documentation lists them.
SETTINGS: Mapping[str, Setting] = {
    "RUSTPATH_BACKEND": Setting(
        "rust",
        '``"rust"``, ``"python"`` or ``"shadow"``',
        "What runs a kernel when the URL pins no side. ``shadow``: Rust answers, and a "
        "sample of calls also runs the Python reference off the request path.",
    ),
    "RUSTPATH_BACKENDS": Setting(
        {},
        "dict of kernel name to backend",
        'Per-kernel override of ``RUSTPATH_BACKEND``: ``{"prime_sum": "python"}``.',
    ),
    "RUSTPATH_LIMITS": Setting(
        {},
        "dict of kernel name to ``{side: {parameter: limit}}``",
        "Per-kernel argument limits, merged over the kernel's own ``limits=``: "
        '``{"prime_sum": {"python": {"n": 200000}}}``. Above a limit a request answers '
        "422. On a ``str``, ``bytes`` or ``list`` parameter the limit is a length (a "
        "whole number).",
    ),
    "RUSTPATH_CONCURRENCY": Setting(
        {"python": None, "rust": None},
        "dict of side to ``int`` or ``None``",
        "A deliberate cap on concurrent calls per side in one worker process, over all "
        'kernels: ``{"python": 2}``. ``None`` is no cap of the extension\'s own: the '
        "server's concurrency (gunicorn's threads, Granian's blocking threads, the "
        "front's workers x threads) bounds the calls, and nothing below it is refused. "
        "A call that finds every capped slot taken waits up to "
        "``RUSTPATH_ADMISSION_WAIT``, then answers 503 ``overloaded`` with "
        "``Retry-After``. The front applies the ``rust`` cap once, over all its native "
        "calls.",
    ),
    "RUSTPATH_ADMISSION_WAIT": Setting(
        1.0,
        "``float``, seconds",
        "How long a call waits for a slot of a cap (``RUSTPATH_CONCURRENCY``, a "
        "kernel's ``concurrency=``) before it answers 503 ``overloaded``; ``0`` refuses "
        "at once.",
    ),
    "RUSTPATH_DEADLINE": Setting(
        10.0,
        "``float`` seconds, or ``None``",
        "How long a kernel call made while serving a request may run (``None``: no "
        "deadline). A Rust function that takes a ``timeout`` keyword receives it and is "
        "stopped there (504 ``deadline_exceeded``); Python cannot be interrupted, so "
        "bound its cost with ``RUSTPATH_LIMITS``.",
    ),
    "RUSTPATH_SHADOW_RATE": Setting(
        0.1,
        "``float`` from 0 to 1",
        "The fraction of calls on the ``shadow`` backend also run in Python and compared.",
    ),
    "RUSTPATH_SHADOW_RATES": Setting(
        {},
        "dict of kernel name to ``float``",
        'Per-kernel shadow rate: ``{"prime_sum": 1.0}``.',
    ),
    "RUSTPATH_SHADOW_POOL": Setting(
        "process",
        '``"process"`` or ``"thread"``',
        "Where shadow calls run: a small process pool, so the Python reference never "
        "holds the serving process's GIL, or a background thread.",
    ),
    "RUSTPATH_SHADOW_WORKERS": Setting(
        1, "``int``", "Shadow processes (or threads) per worker process."
    ),
    "RUSTPATH_SHADOW_QUEUE": Setting(
        32,
        "``int``",
        "Shadow calls that may wait; a call finding the queue full is dropped and counted.",
    ),
    "RUSTPATH_SHADOW_TIMEOUT": Setting(
        30.0,
        "``float``, seconds",
        "How long a shadow call may wait in the queue before it is given up (counted).",
    ),
    "RUSTPATH_SHADOW_RAISE": Setting(
        False,
        "``bool``",
        "Run shadow comparisons inline and raise ``ShadowMismatch`` on a mismatch: a test aid.",
    ),
    "RUSTPATH_SHADOW_RECORD": Setting(
        None,
        "``str`` (a file path) or ``None``",
        "A file where shadow mismatches are recorded, one JSON line each, for ``flask "
        "rustpath check --from-shadow`` to replay; ``None`` records none. One file per "
        "app, shared by its workers (give an absolute path: workers may not share a "
        "working directory).",
    ),
    "RUSTPATH_SHADOW_RECORD_BYTES": Setting(
        1_000_000,
        "``int``, bytes",
        "The record's largest size: mismatches past it are logged, not written.",
    ),
    "RUSTPATH_SHADOW_RECORD_CHARS": Setting(
        1_000,
        "``int``",
        "The most characters (bytes, list items) of each argument the record keeps; a "
        "longer argument is cut, and its line says so.",
    ),
    "RUSTPATH_PYTHON_PREFIX": Setting(
        "/python", "``str``", "URL prefix of the Python variant of every paired view."
    ),
    "RUSTPATH_RUST_PREFIX": Setting(
        "/rust", "``str``", "URL prefix of the Rust variant of every paired view."
    ),
    "RUSTPATH_URL_PREFIX": Setting(
        "/rustpath",
        "``str``",
        "Where the extension's own blueprint (dashboard, compare, metrics, built-ins) is mounted.",
    ),
    "RUSTPATH_COMPARE": Setting(
        None,
        "``bool`` or ``None``",
        "Turn the dashboard and the compare endpoint on or off. They run the slow "
        "reference on request; ``None`` means on only in debug mode (or, with "
        "``RUSTPATH_DASHBOARD_DECORATOR``, always).",
    ),
    "RUSTPATH_DASHBOARD_DECORATOR": Setting(
        None,
        "a view decorator, or ``None``",
        "A view decorator putting the dashboard and the compare endpoint behind the "
        "app's own auth, e.g. ``flask_login.login_required`` or an admin check. Set it "
        "in ``app.config`` (a callable: the environment cannot carry it). With one, "
        "``RUSTPATH_COMPARE = None`` turns them on in production too; ``False`` still "
        "turns them off.",
    ),
    "RUSTPATH_METRICS": Setting(
        True,
        "``bool``",
        "Serve Prometheus metrics at ``<RUSTPATH_URL_PREFIX>/metrics`` when "
        "prometheus-client is installed.",
    ),
    "RUSTPATH_KEEP_SIDE": Setting(
        True,
        "``bool``",
        "Inside a request pinned to a side (``/rust/…``), ``url_for`` of a paired view "
        "builds that side's URL, so links keep a browser on the side it chose. "
        "``False``: the plain URL, as on any other request.",
    ),
    "RUSTPATH_BUILTINS": Setting(
        False,
        "``bool``",
        "Register the built-in kernels' JSON routes (``sum_of_primes``) under "
        "``RUSTPATH_URL_PREFIX``. Off in your apps: they add public CPU-heavy URLs. The "
        "demo turns them on.",
    ),
    "RUSTPATH_LOG_INTERVAL": Setting(
        60.0,
        "``float``, seconds",
        "Time between two log lines of one kind (a shadow mismatch, an unavailable Rust "
        "module); the lines in between are counted and the count is logged with the "
        "next one.",
    ),
    "RUSTPATH_AUTOBUILD": Setting(
        None,
        "``bool`` or ``None``",
        "Rebuild your own crates (``flask rustpath new``/``build``) on import when their "
        "sources changed, with maturin's import hook. ``None`` means on in debug mode.",
    ),
}

# The app's defaults, by key.
DEFAULTS: Mapping[str, Any] = {key: setting.default for key, setting in SETTINGS.items()}

#: Read from the process environment, never from app.config (where they are refused).
PROCESS_SETTINGS: Mapping[str, Setting] = {
    "RUSTPATH_THREADS": Setting(
        None,
        "``int``, an environment variable",
        "The size of the Rust thread pool of the built-in kernels and of kernels that "
        "use ``rustpath::pool::process_pool()``, read from the process environment "
        "(default: the available cores). Not an app setting: in ``app.config`` it is "
        "refused.",
    ),
}
PROCESS_KEYS = frozenset(PROCESS_SETTINGS)

#: The settings keyed by kernel name; a name no kernel has is refused by
#: check_kernel_names, once every kernel is declared.
PER_KERNEL_KEYS = ("RUSTPATH_BACKENDS", "RUSTPATH_LIMITS", "RUSTPATH_SHADOW_RATES")


def apply(config: MutableMapping[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Fill ``config`` from the environment and the defaults, then refuse unknown keys."""
    environ = os.environ if environ is None else environ
    for key, raw in environ.items():
        if key.startswith("RUSTPATH_") and key not in PROCESS_KEYS and key not in config:
            config[key] = _parse_environ(raw)
    for key, value in DEFAULTS.items():
        config.setdefault(key, value.copy() if isinstance(value, dict) else value)
    for key in config:
        if key.startswith("RUSTPATH_") and key not in DEFAULTS:
            raise Misconfigured(_unknown_key_message(key))


def _parse_environ(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _unknown_key_message(key: str) -> str:
    if key in PROCESS_KEYS:
        return f"{key} is read from the process environment by the Rust pool, not app.config"
    # Compare what follows the shared prefix, or every key looks alike.
    names = {known.removeprefix("RUSTPATH_"): known for known in DEFAULTS}
    close = difflib.get_close_matches(key.removeprefix("RUSTPATH_"), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {names[close[0]]}?" if close else ""
    return f"unknown setting {key}{hint}"


@dataclass(frozen=True)
class AppSettings:
    """The app-wide settings, checked once."""

    python_prefix: str
    rust_prefix: str
    url_prefix: str
    builtins: bool
    keep_side: bool
    metrics: bool
    compare: bool | None
    # Wraps the dashboard's and compare's views (the app's auth); None: not wrapped.
    dashboard_decorator: Callable[[Callable[..., Any]], Callable[..., Any]] | None
    autobuild: bool | None
    concurrency: Mapping[Side, int | None]  # None: no cap (the server's concurrency)
    admission_wait: float
    deadline: float | None
    shadow_pool: str
    shadow_workers: int
    shadow_queue: int
    shadow_timeout: float
    shadow_raise: bool
    shadow_record: str | None  # the mismatch record's path, or None for none
    shadow_record_bytes: int
    shadow_record_chars: int
    log_interval: float
    # The kernel names each per-kernel setting names, checked by check_kernel_names.
    kernel_names: Mapping[str, frozenset[str]]

    def prefix(self, side: Side) -> str:
        return self.python_prefix if side == "python" else self.rust_prefix


@dataclass(frozen=True)
class KernelSettings:
    """One kernel's effective settings on one app."""

    backend: Backend
    limits: Mapping[Side, Mapping[str, float]]
    shadow_rate: float


def app_settings(config: Mapping[str, Any]) -> AppSettings:
    """Check every app-wide key (call after :func:`apply`)."""
    prefixes = {part: _prefix(config, part) for part in ("python", "rust", "url")}
    if len(set(prefixes.values())) < len(prefixes):
        raise Misconfigured(
            "RUSTPATH_PYTHON_PREFIX, RUSTPATH_RUST_PREFIX and RUSTPATH_URL_PREFIX must differ"
        )
    for key in (
        "RUSTPATH_BUILTINS",
        "RUSTPATH_METRICS",
        "RUSTPATH_SHADOW_RAISE",
        "RUSTPATH_KEEP_SIDE",
    ):
        if not isinstance(config[key], bool):
            raise Misconfigured(f"{key} must be true or false; got {config[key]!r}")
    for key in ("RUSTPATH_AUTOBUILD", "RUSTPATH_COMPARE"):
        if config[key] not in (None, True, False):
            raise Misconfigured(f"{key} must be None, true or false; got {config[key]!r}")
    decorator = config["RUSTPATH_DASHBOARD_DECORATOR"]
    if decorator is not None and not callable(decorator):
        raise Misconfigured(
            "RUSTPATH_DASHBOARD_DECORATOR must be a view decorator (a callable such as "
            f"login_required) set in app.config, or None; got {decorator!r}"
        )
    record = config["RUSTPATH_SHADOW_RECORD"]
    if record is not None and (not isinstance(record, (str, os.PathLike)) or not str(record)):
        raise Misconfigured(f"RUSTPATH_SHADOW_RECORD must be a file path or None; got {record!r}")
    for key in (
        "RUSTPATH_SHADOW_WORKERS",
        "RUSTPATH_SHADOW_QUEUE",
        "RUSTPATH_SHADOW_RECORD_BYTES",
        "RUSTPATH_SHADOW_RECORD_CHARS",
    ):
        if not _is_int(config[key]) or config[key] < 1:
            raise Misconfigured(f"{key} must be a positive integer; got {config[key]!r}")
    if config["RUSTPATH_SHADOW_POOL"] not in ("process", "thread"):
        raise Misconfigured(
            f"RUSTPATH_SHADOW_POOL must be 'process' or 'thread'; "
            f"got {config['RUSTPATH_SHADOW_POOL']!r}"
        )
    for key in PER_KERNEL_KEYS:
        _mapping(config, key)
    if config["RUSTPATH_BACKEND"] not in BACKENDS:
        raise Misconfigured(
            f"RUSTPATH_BACKEND must be one of {', '.join(BACKENDS)}; "
            f"got {config['RUSTPATH_BACKEND']!r}"
        )
    rate = config["RUSTPATH_SHADOW_RATE"]
    if not _is_number(rate) or not 0 <= rate <= 1:
        raise Misconfigured(f"RUSTPATH_SHADOW_RATE must be a number from 0 to 1; got {rate!r}")
    deadline = config["RUSTPATH_DEADLINE"]
    if deadline is not None:
        deadline = _positive(config, "RUSTPATH_DEADLINE")
    return AppSettings(
        python_prefix=prefixes["python"],
        rust_prefix=prefixes["rust"],
        url_prefix=prefixes["url"],
        builtins=config["RUSTPATH_BUILTINS"],
        keep_side=config["RUSTPATH_KEEP_SIDE"],
        metrics=config["RUSTPATH_METRICS"],
        compare=config["RUSTPATH_COMPARE"],
        dashboard_decorator=decorator,
        autobuild=config["RUSTPATH_AUTOBUILD"],
        concurrency=_concurrency(config),
        admission_wait=_non_negative(config, "RUSTPATH_ADMISSION_WAIT"),
        deadline=deadline,
        shadow_pool=config["RUSTPATH_SHADOW_POOL"],
        shadow_workers=config["RUSTPATH_SHADOW_WORKERS"],
        shadow_queue=config["RUSTPATH_SHADOW_QUEUE"],
        shadow_timeout=_positive(config, "RUSTPATH_SHADOW_TIMEOUT"),
        shadow_raise=config["RUSTPATH_SHADOW_RAISE"],
        shadow_record=None if record is None else os.fspath(record),
        shadow_record_bytes=config["RUSTPATH_SHADOW_RECORD_BYTES"],
        shadow_record_chars=config["RUSTPATH_SHADOW_RECORD_CHARS"],
        log_interval=_non_negative(config, "RUSTPATH_LOG_INTERVAL"),
        kernel_names={key: frozenset(_mapping(config, key)) for key in PER_KERNEL_KEYS},
    )


def resolve(config: Mapping[str, Any], kernel: KernelSpec) -> KernelSettings:
    """``kernel``'s effective settings on an app with ``config``."""
    backend, source = _kernel_setting(
        config, kernel, "RUSTPATH_BACKENDS", kernel.backend, "RUSTPATH_BACKEND"
    )
    if backend not in BACKENDS:
        raise Misconfigured(f"{source} must be one of {', '.join(BACKENDS)}; got {backend!r}")
    rate, source = _kernel_setting(
        config, kernel, "RUSTPATH_SHADOW_RATES", kernel.shadow_rate, "RUSTPATH_SHADOW_RATE"
    )
    if not _is_number(rate) or not 0 <= rate <= 1:
        raise Misconfigured(f"{source} must be a number from 0 to 1; got {rate!r}")
    return KernelSettings(backend=backend, limits=_limits(config, kernel), shadow_rate=float(rate))


class SettingsRefused(RuntimeError):
    """The app's first request found a ``RUSTPATH_*`` setting wrong.

    Not the ``Misconfigured`` HTTP error itself: that would be answered as a 500 page
    carrying the message. This one propagates out of the app, so the server logs it
    with its traceback (and a test client raises it), and the client sees a plain 500.
    """


def check_kernel_names(settings: AppSettings, names: Iterable[str]) -> None:
    """Refuse a kernel name in a per-kernel setting that no kernel in ``names`` has,
    with the closest one: a misspelt name would otherwise be ignored silently.

    Call once every kernel is declared (see the module docstring). Reads the names as
    ``init_app`` read them, as every other setting: a later change of ``app.config``
    applies to nothing."""
    known = sorted(names)
    for key, named in settings.kernel_names.items():
        for name in sorted(named, key=str):
            if name in known:
                continue
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            if close:
                hint = f"; did you mean {close[0]!r}?"
            else:
                hint = f"; its kernels are {', '.join(map(repr, known)) or 'none'}"
            raise Misconfigured(f"{key} names kernel {name!r}, which the app does not have{hint}")


def _limits(config: Mapping[str, Any], kernel: KernelSpec) -> dict[Side, dict[str, float]]:
    overrides = _mapping(config, "RUSTPATH_LIMITS").get(kernel.name, {})
    if not isinstance(overrides, Mapping) or not all(
        side in SIDES and isinstance(bounds, Mapping) for side, bounds in overrides.items()
    ):
        raise Misconfigured(
            f"RUSTPATH_LIMITS[{kernel.name!r}] must map 'python'/'rust' to "
            f"{{argument: limit}}; got {overrides!r}"
        )
    limits: dict[Side, dict[str, float]] = {}
    hints = type_hints(kernel.python)
    for side in SIDES:
        merged = {**kernel.limits.get(side, {}), **overrides.get(side, {})}
        for argument, limit in merged.items():
            if argument not in kernel.parameters:
                raise Misconfigured(
                    f"limits of kernel {kernel.name!r} name {argument!r}, which it does not take"
                )
            if not _is_number(limit) or math.isnan(limit):
                raise Misconfigured(
                    f"limit for {argument!r} on the {side} side of {kernel.name!r} must be a "
                    f"number, got {limit!r}"
                )
            if is_sized_kind(hints.get(argument)) and (not _is_int(limit) or limit < 0):
                raise Misconfigured(
                    f"limit for {argument!r} on the {side} side of {kernel.name!r} is a "
                    f"length, a whole number from 0; got {limit!r}"
                )
        if merged:
            limits[side] = merged
    return limits


def _concurrency(config: Mapping[str, Any]) -> dict[Side, int | None]:
    value = config["RUSTPATH_CONCURRENCY"]
    if not isinstance(value, Mapping) or not set(value) <= set(SIDES):
        raise Misconfigured(
            f"RUSTPATH_CONCURRENCY must map 'python'/'rust' to a positive integer or None; "
            f"got {value!r}"
        )
    caps: dict[Side, int | None] = {}
    for side in SIDES:
        count = value.get(side)
        if count is not None and (not _is_int(count) or count < 1):
            raise Misconfigured(
                f"RUSTPATH_CONCURRENCY[{side!r}] must be a positive integer or None (no "
                f"cap); got {count!r}"
            )
        caps[side] = count
    return caps


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _prefix(config: Mapping[str, Any], part: str) -> str:
    key = f"RUSTPATH_{part.upper()}_PREFIX"
    value = config[key]
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.strip("/") == ""
        or "<" in value
    ):
        raise Misconfigured(f"{key} must be a fixed path such as '/{part}', got {value!r}")
    return value.rstrip("/")


def _kernel_setting(
    config: Mapping[str, Any], kernel: KernelSpec, per_kernel_key: str, own: Any, global_key: str
) -> tuple[Any, str]:
    """A kernel's setting and where it came from: deployment configuration overrides
    code, and code overrides the global default."""
    per_kernel = _mapping(config, per_kernel_key)
    if kernel.name in per_kernel:
        return per_kernel[kernel.name], f"{per_kernel_key}[{kernel.name!r}]"
    if own is not None:
        return (
            own,
            f"the {per_kernel_key.removeprefix('RUSTPATH_').lower()[:-1]} of {kernel.name!r}",
        )
    return config[global_key], global_key


def _mapping(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config[key]
    if not isinstance(value, Mapping):
        raise Misconfigured(f"{key} must be a dict keyed by kernel name; got {value!r}")
    return value


def _positive(config: Mapping[str, Any], key: str) -> float:
    value = config[key]
    if not _is_number(value) or not value > 0 or math.isinf(value):
        raise Misconfigured(f"{key} must be a positive number of seconds; got {value!r}")
    return float(value)


def _non_negative(config: Mapping[str, Any], key: str) -> float:
    value = config[key]
    if not _is_number(value) or not value >= 0 or math.isinf(value):
        raise Misconfigured(f"{key} must be a number of seconds, 0 or more; got {value!r}")
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
