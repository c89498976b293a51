"""Serving through the Rust front: ``flask rustpath serve``.

gunicorn runs the app, with the shipped config, on a private Unix socket. The Rust
front (hyper and tokio, in ``_native``) listens on the public address and:

- answers every JSON-shorthand hot route whose Rust side has a native entry point
  itself, with no Python and no GIL, under the same contract as the Flask side (the
  JSON body, ``X-RustPath-Backend``, ``Server-Timing``, the Rust side's limits (on
  a number's value, on a text's length), the admission bound, the deadline, JSON
  errors), its parameters read from the URL and from a JSON object body as Flask reads
  them (a request whose answer Flask words its own way, a form or a missing parameter,
  goes to gunicorn with the body already read);
- proxies everything else to gunicorn, buffering each request first, so a slow client
  never holds a worker thread;
- answers ``/healthz`` with its own state and the app's answer there, and appends its
  metrics to the app's at ``<RUSTPATH_URL_PREFIX>/metrics``;
- on ``SIGTERM`` first drains for ``drain_delay_s`` (``--drain-delay``): ``/healthz``
  answers 503 ``draining`` at once while everything else is still served, so a load
  balancer or Kubernetes takes the replica out of rotation with nothing refused; then
  (or at once on ``SIGINT`` or a second ``SIGTERM``) stops accepting, finishes every
  request it has read, closes idle keep-alive connections, then stops gunicorn
  gracefully.

A native entry point is a ``PyCapsule`` named ``flask_rustpath.native.v1`` in the Rust
module's ``__rustpath_native__`` dict, under the function's name (the C ABI is
documented in docs/native-abi.md). The built-in ``sum_of_primes`` has one, and so does every
crate ``flask rustpath new`` scaffolds.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider

from ..core.config import usable_cpus
from ..core.errors import BadInput, DeadlineExceeded, LimitExceeded, Overloaded, RustPanic
from ..core.parameters import allows_none, is_sized_kind, without_none
from ..flask_internals import handles_errors, hooks_applying, wsgi_app_is
from ..hot import HotRoute
from ..middleware import PairingMiddleware
from ..pairing import plain_rules
from ..state import RustPathState, get_state
from ..support.native import serve_front
from ..support.rules import RULE_VARIABLE
from .answers import limit_answer, native_answers
from .launch import GUNICORN_COMMAND

NATIVE_ATTRIBUTE = "__rustpath_native__"
# What the front itself answers a native call with; an app handler for any of them
# would change the answer, so such routes stay with Flask.
NATIVE_ERRORS = (BadInput, LimitExceeded, Overloaded, DeadlineExceeded, RustPanic)
NATIVE_STATUSES = frozenset({400, 422, 500, 503, 504})
CAPSULE_NAME = "flask_rustpath.native.v1"
# Calls of the built-in sum_of_primes below this n run on the front's serving thread:
# they take well under a millisecond, less than handing them to another thread costs.
BUILTIN_INLINE_BELOW_N = 2_000_000
START_TIMEOUT_S = 60
# The front bounds request heads itself (16 KiB, 100 fields) and adds two headers;
# gunicorn's own, smaller bounds would answer HTML for what the front let through. A
# request line of 0 is unbounded; a field size of 0 is gunicorn's default, 8190 bytes,
# so the field size is set above the largest head the front passes (see
# gunicorn_limits).
GUNICORN_LIMITS = "--limit-request-line 0 --limit-request-fields 32768"
# What the front adds to a header field at most: ", " and a client's IPv6 address in
# X-Forwarded-For.
FORWARDED_MARGIN = 64
# Named for gunicorn_conf: the master stops when this process dies (not a RUSTPATH_*
# name, which the extension would read as app config).
PARENT_PID_ENV = "FLASK_RUSTPATH_FRONT_PID"


# Client connections the front keeps open at most (its accept loop waits beyond them),
# and file descriptors kept for everything else: logs, sockets to gunicorn's health
# and metrics, the shadow's requests.
MAX_CONNECTIONS = 4096
RESERVED_DESCRIPTORS = 128


def raise_descriptor_limit(wanted: int = 2 * MAX_CONNECTIONS + RESERVED_DESCRIPTORS) -> None:
    """Raise this process's soft limit on open files towards ``wanted``, within the hard
    limit (as nginx's ``worker_rlimit_nofile`` does); gunicorn inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def connection_bound() -> int:
    """How many client connections the front keeps open at once: ``MAX_CONNECTIONS``,
    or fewer when the open-files limit is lower, since a proxied request holds a
    connection to gunicorn too. Beyond it, new clients wait in the listen backlog
    rather than fail to be accepted."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, (soft - RESERVED_DESCRIPTORS) // 2))


def default_io_threads() -> int:
    """Half the usable CPUs, at least one: gunicorn's workers need the rest.

    Measured on two cores under a bounded wrk load: one serving thread proxies a request
    for about 70 µs of the front's CPU, two threads for about 115 µs (they wake each
    other), and both answer native routes at the same rate.
    """
    return max(1, usable_cpus() // 2)


@dataclass(frozen=True)
class FrontOptions:
    """How the front serves; the defaults suit a public port."""

    bind: str = "127.0.0.1:8000"
    io_threads: int = field(default_factory=default_io_threads)
    health_path: str = "/healthz"
    max_header_bytes: int = 16 * 1024
    # Time a client has to take more of a response (nginx's send_timeout).
    send_timeout_s: float = 60.0
    max_body_bytes: int = 16 * 1024 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    upstream_timeout_s: float = 60.0
    graceful_timeout_s: float = 30.0
    # Time serving goes on after SIGTERM, with the health URL answering 503 draining.
    drain_delay_s: float = 0.0
    # Native calls that may wait for a slot, beyond the running ones, before a 503.
    queue: int = 1024
    shadow_in_flight: int = 4
    # One line per request, native or proxied, to stdout (gunicorn's own is off).
    access_log: bool = True


@dataclass
class NativePlan:
    """What the front serves natively, and why each other hot route is not."""

    routes: list[dict[str, Any]] = field(default_factory=list)
    entries: dict[str, Any] = field(default_factory=dict)  # entry key -> capsule
    proxied: dict[str, str] = field(default_factory=dict)  # endpoint -> every reason
    # endpoint -> what the front skips for a route declared native="always"
    skipping: dict[str, str] = field(default_factory=dict)


_SIZE = re.compile(r"\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*")
_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
# The largest body the front will hold in memory for one request.
MAX_BODY_LIMIT = 4 * 1024**3


def parse_size(text: str) -> int:
    """Bytes in ``"16MiB"``, ``"512KiB"`` or ``"1048576"`` (at least 1, at most 4 GiB)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a size like 16MiB, 512KiB or 1048576; got {text!r}")
    size = int(match[1]) * _UNITS[match[2]]
    if not 1 <= size <= MAX_BODY_LIMIT:
        raise ValueError(f"a size from 1 byte to 4GiB; got {text!r}")
    return size


def native_capsule(route: HotRoute) -> tuple[str, Any] | str:
    """``(entry key, capsule)`` of the route's Rust side, or why it has none."""
    target = route.kernel.rust
    if target.module is None:
        function = target.function
        module_name = getattr(function, "__module__", None)
        attr = getattr(function, "__name__", None)
    else:
        module_name, _, attr = target.spec.partition(":")
    if not module_name or not attr:
        return "its Rust side is not a module function"
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a broken module: the app serves this route through Python
        return f"{module_name} does not import: {exc}"
    capsule = (getattr(module, NATIVE_ATTRIBUTE, None) or {}).get(attr)
    if capsule is None:
        return f"{module_name} exports no native entry point for {attr}"
    return f"{module_name}:{attr}", capsule


def segments(rule: str) -> list[dict[str, str]] | None:
    """``rule`` as literal text and variables, or ``None`` if a converter is not one
    the front matches (``int`` without options, ``string``/default without options)."""
    parts: list[dict[str, str]] = []
    position = 0
    for match in RULE_VARIABLE.finditer(rule):
        if match.start() > position:
            parts.append({"kind": "literal", "text": rule[position : match.start()]})
        converter = match["converter"] or "default"
        if match["args"]:
            return None
        if converter == "int":
            parts.append({"kind": "int", "name": match["name"]})
        elif converter in ("default", "string"):
            parts.append({"kind": "string", "name": match["name"]})
        else:
            return None
        position = match.end()
    if position < len(rule):
        parts.append({"kind": "literal", "text": rule[position:]})
    return parts


def native_plan(app: Flask) -> NativePlan:
    """The routes of ``app`` the front answers natively.

    Only where the answer cannot differ from Flask's: the front runs no Python, so a
    route whose request would pass through a ``before_request``/``after_request``
    hook, a URL value preprocessor, an error handler for a status the front answers
    with, or WSGI middleware, stays with gunicorn; so does a rule another rule could
    match too (Flask's routing order decides those).
    """
    state = get_state(app)
    plan = NativePlan()
    app_reason = _why_app_not_native(app)
    for endpoint, route in state.routes.items():
        if route.native == "never":
            plan.proxied[endpoint] = "it is declared native='never'"
            continue
        hooks = _what_flask_adds(app, endpoint)
        if route.native == "always" and hooks:
            plan.skipping[endpoint] = "; ".join(hooks)
            hooks = []
        found = native_capsule(route)
        reasons = [
            reason
            for reason in (
                app_reason,
                _why_not_native(route),
                _why_body_not_native(app) if route.parameters else None,
                *hooks,
                _why_rules_overlap(app, endpoint),
                found if isinstance(found, str) else None,
            )
            if reason
        ]
        if reasons or isinstance(found, str):
            plan.proxied[endpoint] = "; ".join(reasons)
            plan.skipping.pop(endpoint, None)
            continue
        key, capsule = found
        plan.entries[key] = capsule
        for rule in plain_rules(app.url_map, endpoint):
            parts = segments(rule.rule)
            if parts is None or rule.host or rule.subdomain:
                plan.proxied[endpoint] = f"the front does not match the rule {rule.rule!r}"
                continue
            plan.routes.append(_route_config(state, route, key, parts))
    return plan


def _why_app_not_native(app: Flask) -> str | None:
    """WSGI middleware around the app runs Python the front would skip."""
    if not wsgi_app_is(app, PairingMiddleware):
        return "the app's WSGI app is wrapped in middleware, which only gunicorn runs"
    return None


def _what_flask_adds(app: Flask, endpoint: str) -> list[str]:
    """What Flask would run around the route that the front cannot: each request hook,
    and an error handler for a status the front answers with."""
    found = [
        f"{hook} applies to it, which only Flask runs" for hook in hooks_applying(app, endpoint)
    ]
    if handles_errors(app, endpoint, NATIVE_STATUSES, NATIVE_ERRORS):
        found.append("an error handler applies to its errors, which only Flask runs")
    return found


def _why_rules_overlap(app: Flask, endpoint: str) -> str | None:
    for rule in plain_rules(app.url_map, endpoint):
        for other in plain_rules(app.url_map):
            if other.endpoint != endpoint and _may_overlap(rule.rule, other.rule):
                return f"{other.rule!r} may match the same URLs; Flask's routing order decides"
    return None


def _may_overlap(rule: str, other: str) -> bool:
    """Whether some URL could match both rules (conservatively: yes when unsure)."""
    mine, theirs = rule.split("/"), other.split("/")
    for a, b in zip(mine, theirs, strict=False):
        if "<path:" in a or "<path:" in b:
            return True
        if "<" not in a and "<" not in b and a != b:
            return False
    return len(mine) == len(theirs)


def _why_not_native(route: HotRoute) -> str | None:
    if not route.parameters:
        return None if "GET" in route.methods else "it does not answer GET"
    unchecked = [p.name for p in route.parameters if json_kind(p.kind) is None]
    if unchecked:
        return f"the front does not check the type of {', '.join(unchecked)}"
    return None


def _why_body_not_native(app: Flask) -> str | None:
    """What would make Flask read a JSON body otherwise than the front does."""
    if app.config.get("MAX_CONTENT_LENGTH") is not None:
        return "the app sets MAX_CONTENT_LENGTH, which only Flask applies"
    if app.request_class is not Request or type(app.json) is not DefaultJSONProvider:
        return "the app reads JSON with its own request or JSON class, which only Flask runs"
    return None


def json_kind(kind: Any) -> dict[str, Any] | None:
    """What JSON a parameter annotated ``kind`` takes, as the front checks it
    (``rust_src/front/json_body.rs``), mirroring ``core/parameters.py``; ``None`` for an
    annotation the front does not check (the route then stays with gunicorn)."""
    if kind is Any:
        return {"type": "any", "nullable": True}
    nullable = allows_none(kind)
    kind = without_none(kind)
    simple = {bool: "bool", int: "int", float: "float", str: "str"}
    if isinstance(kind, type) and kind in simple:
        return {"type": simple[kind], "nullable": nullable}
    origin, args = typing.get_origin(kind) or kind, typing.get_args(kind)
    if origin is list:
        item = json_kind(args[0] if args else Any)
    elif origin is dict:
        item = json_kind(args[1] if len(args) == 2 else Any)
    else:
        return None
    if item is None:
        return None
    return {"type": "list" if origin is list else "dict", "nullable": nullable, "item": item}


def _route_config(
    state: RustPathState, route: HotRoute, key: str, parts: list[dict[str, str]]
) -> dict[str, Any]:
    kernel = route.kernel
    settings = state.settings_for(kernel)
    limits = settings.limits.get("rust") or {}
    # The front measures text and lists by their length, as check_limits does.
    texts = {part["name"] for part in parts if part["kind"] == "string"}
    texts |= {p.name for p in route.parameters if is_sized_kind(p.kind)}
    return {
        "kernel": kernel.name,
        # Every answer, as the Flask side words it: the front fills in a call's values.
        "answers": native_answers(kernel.name, state.settings.admission_wait),
        "entry": key,
        "segments": parts,
        "methods": list(route.methods),
        "parameters": [
            {"name": parameter.name, "kind": json_kind(parameter.kind)}
            for parameter in route.parameters
        ],
        "plain_native": settings.backend in ("rust", "shadow"),
        "shadow_rate": settings.shadow_rate if settings.backend == "shadow" else 0.0,
        "limits": [
            {
                "argument": name,
                "limit_json": json.dumps(limit),
                "answer": limit_answer(kernel.name, name, limit, length=name in texts),
            }
            for name, limit in limits.items()
        ],
        "concurrency": kernel.concurrency.get("rust"),
        "inline_below": BUILTIN_INLINE_BELOW_N
        if key == "flask_rustpath._native:sum_of_primes"
        else None,
    }


def front_config(
    app: Flask, plan: NativePlan, upstream: Path, options: FrontOptions, *, concurrency: int
) -> dict[str, Any]:
    """The JSON the front reads (see ``rust_src/front/config.rs``).

    ``concurrency`` is what the server is sized for, gunicorn's workers x threads: the
    front runs as many native calls at once unless ``RUSTPATH_CONCURRENCY["rust"]``
    caps them, so a load the proxied routes would answer is never refused natively.
    """
    state = get_state(app)
    settings = state.settings
    cap = settings.concurrency["rust"]
    return {
        "bind": options.bind,
        "upstream": str(upstream),
        "routes": plan.routes,
        "rust_prefix": settings.rust_prefix,
        "python_prefix": settings.python_prefix,
        "rust_slots": concurrency if cap is None else cap,
        "queue": options.queue,
        "admission_wait_seconds": settings.admission_wait,
        "deadline_seconds": settings.deadline,
        "health_path": options.health_path,
        "metrics_path": f"{settings.url_prefix.rstrip('/')}/metrics",
        "io_threads": options.io_threads,
        "max_header_bytes": options.max_header_bytes,
        "max_body_bytes": options.max_body_bytes,
        "header_timeout_seconds": options.header_timeout_s,
        "body_timeout_seconds": options.body_timeout_s,
        "upstream_timeout_seconds": options.upstream_timeout_s,
        "graceful_timeout_seconds": options.graceful_timeout_s,
        "drain_delay_seconds": options.drain_delay_s,
        "shadow_in_flight": options.shadow_in_flight,
        "access_log": options.access_log,
        "log_interval_seconds": settings.log_interval,
        "max_connections": connection_bound(),
        "upstream_connections": concurrency,
        "send_timeout_seconds": options.send_timeout_s,
    }


def serve(
    app: Flask,
    app_import: str,
    options: FrontOptions,
    *,
    workers: int,
    threads: int,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run gunicorn and the front until ``SIGTERM`` or ``SIGINT``, then stop both;
    gunicorn's exit status (0 after a clean stop)."""
    plan = native_plan(app)
    raise_descriptor_limit()
    with tempfile.TemporaryDirectory(prefix="rustpath-serve-") as private:
        upstream = Path(private) / "gunicorn.sock"
        given = os.environ if environ is None else environ
        env = {
            **given,
            "GUNICORN_APP": app_import,
            "GUNICORN_BIND": f"unix:{upstream}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            # The front keeps connections to gunicorn open; it closes idle ones first.
            "GUNICORN_KEEPALIVE": "60",
            # The front logs every request, native ones too, with the client's address;
            # gunicorn would log only the proxied ones, from the front's socket (unless
            # the environment asks for its log by name).
            "GUNICORN_ACCESSLOG": given.get("GUNICORN_ACCESSLOG", ""),
            PARENT_PID_ENV: str(os.getpid()),
            # The front drains; gunicorn behind it is stopped only once that is done.
            "GUNICORN_DRAIN_DELAY": "0",
        }
        # The front bounds request heads (max_header_bytes); gunicorn's own, smaller
        # bounds on a request line or header would answer HTML for what it let through.
        env["GUNICORN_CMD_ARGS"] = " ".join(
            filter(None, [env.get("GUNICORN_CMD_ARGS"), gunicorn_limits(options)])
        )
        if "PROMETHEUS_MULTIPROC_DIR" not in env and _has_prometheus():
            # Metrics of all workers together (gunicorn_conf drops dead workers' files).
            metrics_dir = Path(private) / "prometheus"
            metrics_dir.mkdir()
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        config = front_config(app, plan, upstream, options, concurrency=workers * threads)
        _check_bind(options.bind)
        for endpoint, reason in plan.proxied.items():
            print(f"flask-rustpath front: {endpoint} goes to gunicorn: {reason}", file=sys.stderr)
        for endpoint, skipped in plan.skipping.items():
            print(
                f"flask-rustpath front: {endpoint} is answered natively (native='always'), "
                f"without what Flask would add: {skipped}",
                file=sys.stderr,
            )
        with _stop_signals() as serving, _gunicorn(env, upstream, options.health_path) as status:
            # SIGHUP reaches the front, which passes it on to gunicorn's master.
            config["app_pid"] = status.pid
            serving.set()
            serve_front(json.dumps(config), plan.entries)
        return status.returncode


def gunicorn_limits(options: FrontOptions) -> str:
    """gunicorn's bounds on a request head, above the front's: whatever the front
    passes on, gunicorn takes, so every refusal of a head is the front's JSON."""
    field_size = options.max_header_bytes + FORWARDED_MARGIN
    return f"{GUNICORN_LIMITS} --limit-request-field_size {field_size}"


def _has_prometheus() -> bool:
    return importlib.util.find_spec("prometheus_client") is not None


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """SIGTERM or SIGINT before the front serves ends start-up (gunicorn is then
    stopped on the way out); once it serves, the front handles them itself and Python
    lets them pass. Without this, PID 1 in a container would ignore SIGTERM. SIGHUP
    during start-up is ignored (the app being started is the one a reload would
    start), instead of killing the process and leaving its temporary directory."""
    serving = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if not serving.is_set():
            raise SystemExit(128 + signum)

    def ignore(signum: int, frame: object) -> None:
        pass

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, ignore)
    try:
        yield serving
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class ExitStatus:
    """gunicorn's exit status, known once it has stopped."""

    returncode: int = 0
    stopping: bool = False  # set once we stop gunicorn ourselves
    pid: int | None = None  # gunicorn's master


@contextlib.contextmanager
def _gunicorn(env: Mapping[str, str], upstream: Path, probe_path: str) -> Iterator[ExitStatus]:
    command = list(GUNICORN_COMMAND)
    # Its own session: a Ctrl-C in the terminal reaches the front, which drains and
    # then stops gunicorn, instead of stopping gunicorn under requests in flight.
    process = subprocess.Popen(
        command, env=dict(env), stdin=subprocess.DEVNULL, start_new_session=True
    )
    status = ExitStatus(pid=process.pid)
    try:
        _wait_for_gunicorn(process, upstream, probe_path)
        _stop_front_when_gunicorn_exits(process, status)
        yield status
    finally:
        status.stopping = True
        status.returncode = _stop(process)


def _stop_front_when_gunicorn_exits(process: subprocess.Popen[bytes], status: ExitStatus) -> None:
    """If gunicorn dies while the front serves, stop the front (as SIGTERM would), so
    `serve` exits with gunicorn's status and a supervisor can restart both."""

    def watch() -> None:
        code = process.wait()
        if not status.stopping:
            print(f"flask-rustpath front: gunicorn exited with {code}; stopping", file=sys.stderr)
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="rustpath-gunicorn-watch", daemon=True).start()


def _check_bind(bind: str) -> None:
    """Fail before starting anything if the front cannot listen on ``bind``."""
    host, _, port = bind.rpartition(":")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except (OSError, ValueError, OverflowError) as exc:
        raise RuntimeError(f"cannot listen on {bind}: {exc}") from None


def _wait_for_gunicorn(process: subprocess.Popen[bytes], upstream: Path, path: str) -> None:
    """Until a worker answers HTTP on the socket (any status)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    request = f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode()
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            probe.connect(str(upstream))
            probe.sendall(request)
            if probe.recv(12).startswith(b"HTTP/"):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT_S} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (gunicorn's graceful stop), SIGKILL only if that hangs; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "8")) + 10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
