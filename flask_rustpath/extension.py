"""The Flask extension: :class:`RustPath` and its ``init_app``."""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Blueprint, Flask
from werkzeug.routing import IntegerConverter, Map, Rule, ValidationError

from .builtins import builtin_kernels
from .core import config
from .core.errors import Misconfigured
from .core.kernel import Kernel, KernelOptions
from .core.record import current_side
from .core.sides import Side
from .crates.autobuild import enable_autobuild, hook_installed, watch_crate_sources
from .crates.freshness import freshness
from .crates.layout import is_crate_dir
from .hot import ROUTE_ATTRIBUTE, HotRoute, Native, make_hot_route
from .middleware import PairingMiddleware
from .pairing import paired
from .state import EXTENSION_KEY, RustPathState, get_state
from .support.rules import rule_shape
from .urls import url_for

if TYPE_CHECKING:
    from flask.sansio.blueprints import BlueprintSetupState
    from typing_extensions import Unpack  # in typing from Python 3.11

log = logging.getLogger("flask_rustpath")

F = TypeVar("F", bound=Callable[..., Any])


class RustPath:
    """Offload the hot parts of Flask views to Rust, with the Python they replace beside them.

    ::

        rustpath = RustPath(app)          # or RustPath() + rustpath.init_app(app)

        @rustpath.kernel(rust="my_crate:text_stats")
        def text_stats(body: str) -> dict[str, int]: ...

        @bp.route("/stats/<int:post_id>")
        @rustpath.paired
        @login_required
        def stats(post_id):
            return render_template("stats.html", stats=text_stats(get_post(post_id).body))

    A paired view is served at ``<rule>``, ``/python<rule>`` and ``/rust<rule>``; every
    kernel call in a request runs on the side its URL pins, and on the plain URL on the
    kernel's configured backend. Declarations live on this object and reach every app
    it initialises; per-app state lives in ``app.extensions["rustpath"]``.
    """

    paired = staticmethod(paired)
    url_for = staticmethod(url_for)

    def __init__(self, app: Flask | None = None) -> None:
        self.kernels: dict[str, Kernel] = {}
        self.routes: list[HotRoute] = []
        # Apps already initialised, so declarations made later reach them too. Weak,
        # so the extension never keeps an app alive.
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    # -- declarations --------------------------------------------------------------

    def kernel(
        self, *, rust: str | Callable[..., Any], **options: Unpack[KernelOptions]
    ) -> Callable[[Callable[..., Any]], Kernel]:
        """Declare the decorated function as the Python reference of a kernel.

        Args:
            rust: the Rust twin, a callable or a ``"module:function"`` string imported on
                first use; it is called with the same arguments.

        Keyword Args:
            name: the kernel's name in settings, metrics and tools (default: the
                function's name).
            backend: ``"rust"``, ``"python"`` or ``"shadow"`` when no side is pinned,
                overriding ``RUSTPATH_BACKEND``.
            limits: upper bounds per side and argument while serving a request, e.g.
                ``{"python": {"n": 10**6}, "rust": {"n": 10**12}}``; above them 422.
            examples: sample keyword arguments, for ``check``, ``compare`` and ``bench``.
            compare: ``compare(python_result, rust_result) -> bool`` for shadow mode,
                compare and check (default ``==``), e.g. a float tolerance.
            shadow_rate: fraction of shadow-backend calls also run in Python.
            concurrency: a deliberate cap on this kernel's concurrent calls per side in
                one worker, e.g. ``{"rust": 1}`` (default: none, the server's threads
                bound the calls). A call beyond it waits up to
                ``RUSTPATH_ADMISSION_WAIT`` for a slot, then answers 503 with
                ``Retry-After``.
            strategy: a hypothesis strategy of keyword-argument dicts for ``check`` and
                :func:`flask_rustpath.testing.assert_parity` (default: from the type
                annotations).

        Returns the :class:`~flask_rustpath.Kernel`, callable like the function.
        """

        def decorator(function: Callable[..., Any]) -> Kernel:
            kernel = Kernel(function, rust=rust, **options)
            self.add_kernel(kernel)
            return kernel

        return decorator

    def add_kernel(self, kernel: Kernel) -> None:
        """Declare ``kernel`` here and on every app initialised so far."""
        known = self.kernels.get(kernel.name)
        if known is not None and known is not kernel:
            raise ValueError(f"a kernel named {kernel.name!r} is already declared")
        for app in list(self._apps):
            get_state(app).add_kernel(kernel)
            # Declared after init_app (a blueprint's module the factory imports later):
            # the same stale check and development loop as the kernels known then.
            _check_crates(app, [kernel])
        self.kernels[kernel.name] = kernel

    def hot(
        self,
        rule: str,
        *,
        rust: str | Callable[..., Any],
        methods: Sequence[str] = ("GET",),
        endpoint: str | None = None,
        blueprint: Blueprint | None = None,
        native: Native = "auto",
        **options: Unpack[KernelOptions],
    ) -> Callable[[Callable[..., Any]], Kernel]:
        """The JSON shorthand: a kernel, and a paired view at ``rule`` answering
        ``{"result": kernel(...)}``.

        URL variables, then query-string, form or JSON-body parameters (by the
        function's type annotations) become the kernel's arguments. The view is
        registered on ``blueprint`` if given, else on every app this extension
        initialises, with endpoint ``endpoint`` (default: the kernel's name).

        ``native`` says whether ``flask rustpath serve`` answers the route in Rust:
        ``"auto"`` where the answer cannot differ from Flask's; ``"always"`` even though
        request hooks or error handlers apply to it (the front skips them; it says so at
        start-up); ``"never"``. Takes the options of :meth:`kernel`.
        """

        def decorator(function: Callable[..., Any]) -> Kernel:
            kernel = Kernel(function, rust=rust, **options)
            self.route(
                rule,
                kernel,
                methods=methods,
                endpoint=endpoint,
                blueprint=blueprint,
                native=native,
            )
            return kernel

        return decorator

    def route(
        self,
        rule: str,
        kernel: Kernel,
        *,
        methods: Sequence[str] = ("GET",),
        endpoint: str | None = None,
        blueprint: Blueprint | None = None,
        native: Native = "auto",
    ) -> HotRoute:
        """The JSON shorthand for an existing kernel: a paired view at ``rule`` (the
        arguments as for :meth:`hot`)."""
        route = make_hot_route(
            rule,
            kernel,
            endpoint=endpoint,
            methods=tuple(methods),
            blueprint=blueprint,
            native=native,
        )
        self.add_route(route)
        return route

    def add_route(self, route: HotRoute) -> None:
        if route.blueprint is not None:
            # Known to each app as the blueprint is registered on it, under the name it
            # is registered with, whichever of init_app and the declaration came first.
            route.blueprint.record(functools.partial(_blueprint_route_registered, route))
            route.blueprint.add_url_rule(
                route.rule, route.endpoint, route.view(), methods=list(route.methods)
            )
        else:
            for app in list(self._apps):
                _register_route(app, route)
        self.add_kernel(route.kernel)
        self.routes.append(route)

    # -- apps ----------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Read and check the ``RUSTPATH_*`` settings (see :mod:`flask_rustpath.core.config`),
        then install the pairing middleware, the extension's blueprint and the CLI.

        Everything that can be refused is checked before the app is changed.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"flask-rustpath is already initialised on app {app.name!r}")
        config.apply(app.config)
        settings = config.app_settings(app.config)
        state = RustPathState(app, settings)
        kernels = [*(builtin_kernels if settings.builtins else ()), *self.kernels.values()]
        for kernel in kernels:
            state.add_kernel(kernel)
        for rule in app.url_map.iter_rules():
            state.check_rule(rule)
        for endpoint, view in app.view_functions.items():  # blueprints registered already
            route = getattr(view, ROUTE_ATTRIBUTE, None)
            if route is not None and route.blueprint is not None:
                state.routes[endpoint] = route
        for route in self.routes:
            if route.blueprint is None:
                state.routes[route.endpoint] = route
                planned = Rule(route.rule, endpoint=route.endpoint, methods=route.methods)
                _refuse_collision(planned, app.url_map, state)
                del state.routes[route.endpoint]
        for rule in app.url_map.iter_rules():
            if rule.endpoint in state.routes:
                _refuse_collision(rule, app.url_map, state)
        app.extensions[EXTENSION_KEY] = state
        app.url_rule_class = _checked_rule_class(app.url_rule_class, state)
        _ascii_integers(app.url_map)
        for route in self.routes:
            if route.blueprint is None:
                _register_route(app, route)
        app.wsgi_app = PairingMiddleware(app, app.wsgi_app, state)  # type: ignore[method-assign]
        app.jinja_env.globals["rustpath_url_for"] = url_for
        # Imported here, not with this module: a process that imports the package
        # without serving an app (a shadow pool worker importing a kernel's module, a
        # script) need not load the blueprint, the dashboard or the CLI's tools.
        from .blueprint import make_blueprint
        from .cli import cli

        app.register_blueprint(make_blueprint(state), url_prefix=settings.url_prefix)
        app.cli.add_command(cli)
        if _autobuild(app) and hook_installed():
            # Before the blueprints the factory registers next import their crates: an
            # import the hook does not see is not rebuilt.
            enable_autobuild()
        _check_crates(app, kernels)
        self._apps.add(app)

    @staticmethod
    def check_settings(app: Flask | None = None) -> None:
        """Refuse (:class:`~flask_rustpath.core.errors.Misconfigured`) a kernel name in
        ``RUSTPATH_BACKENDS``, ``RUSTPATH_LIMITS`` or ``RUSTPATH_SHADOW_RATES`` that no
        kernel of ``app`` has, naming the closest.

        ``init_app`` cannot: kernels declared after it (in the modules of blueprints
        the factory registers later) are still to come. The app's first request and
        every ``flask rustpath`` command call this; call it yourself at the end of a
        factory to fail at start-up rather than on the first request.
        """
        check_settings(app)

    def stats(self, app: Flask | None = None) -> dict[str, Any]:
        """Counts and mean compute times per kernel and side, in this process.

        ``{kernel: {"python": {"requests", "errors", "mean_ms"}, "rust": {...},
        "shadow": {"match", "mismatch", "error", "dropped", "timeout", "skipped"},
        "fallbacks": n}}``; across gunicorn workers, scrape the Prometheus endpoint.
        """
        return get_state(app).metrics.snapshot()

    def health(self, app: Flask | None = None) -> dict[str, Any]:
        """``{"status": "ok"}`` or ``{"status": "degraded", "problems": {...}}``: for a
        ``/healthz`` view. Degraded means observability failed; serving is unaffected."""
        return get_state(app).health()

    def join_shadow(self, app: Flask | None = None, timeout: float = 30.0) -> bool:
        """Wait for every queued shadow comparison (tests, graceful shutdown)."""
        return get_state(app).shadow.join(timeout)

    @staticmethod
    def current_side() -> Side | None:
        """The side the current request's URL pinned, or ``None`` on a plain URL."""
        return current_side()


def check_settings(app: Flask | None = None) -> None:
    """See :meth:`RustPath.check_settings`."""
    state = get_state(app)
    config.check_kernel_names(state.settings, state.kernels)


def _autobuild(app: Flask) -> bool:
    """``RUSTPATH_AUTOBUILD``, which is the debug mode unless set."""
    autobuild = get_state(app).settings.autobuild
    return app.debug if autobuild is None else autobuild


def _check_crates(app: Flask, kernels: list[Kernel]) -> None:
    """Development: rebuild changed crates on import and restart ``flask run`` when their
    sources change. Production: never compile; log every stale build at start-up.

    Each crate module once per app: at ``init_app`` for the kernels declared by then,
    and as each later kernel is declared."""
    state = get_state(app)
    autobuild = _autobuild(app)
    named = {kernel.rust.module for kernel in kernels if kernel.rust.module}
    modules = sorted(named - state.crates_checked)
    state.crates_checked.update(modules)
    reports = [freshness(module) for module in modules]
    # Crates the hook can rebuild: editable installs of a crate directory. Our own
    # module is imported before any hook could see it.
    rebuildable = {
        report.name
        for report in reports
        if report.crate_dir is not None
        and is_crate_dir(report.crate_dir)
        and not report.name.startswith("flask_rustpath")
    }
    if autobuild and rebuildable and enable_autobuild():
        watch_crate_sources(
            {r.crate_dir for r in reports if r.name in rebuildable and r.crate_dir}
        )
    else:
        rebuildable = set()
    for report in reports:
        if report.fresh is False and report.name not in rebuildable:
            log.warning(
                "Rust module %s is stale: %s (crate %s)",
                report.name,
                report.detail,
                report.crate_dir,
            )


def _blueprint_route_registered(route: HotRoute, setup: BlueprintSetupState) -> None:
    """A blueprint holding ``route`` is registered on ``setup.app``: its JSON route is a
    hot route there, under the endpoint the registration gives it."""
    state: RustPathState | None = setup.app.extensions.get(EXTENSION_KEY)
    if state is not None:
        endpoint = f"{setup.name_prefix}.{setup.name}.{route.endpoint}".lstrip(".")
        state.routes[endpoint] = route


def _register_route(app: Flask, route: HotRoute) -> None:
    """Add ``route`` to ``app``; a refusal (collision, endpoint clash, an app already
    serving) leaves the app's state as it was."""
    state = get_state(app)
    kernel_was_known = route.kernel.name in state.kernels
    state.add_route(route)
    try:
        app.add_url_rule(route.rule, route.endpoint, route.view(), methods=list(route.methods))
    except BaseException:
        state.routes.pop(route.endpoint, None)
        if not kernel_was_known:
            state.kernels.pop(route.kernel.name, None)
            state.kernel_settings.pop(route.kernel.name, None)
        raise


def _checked_rule_class(base: type[Rule], state: RustPathState) -> type[Rule]:
    """``app.url_rule_class`` that refuses, as it is added, a rule a side prefix would
    hide or one that collides with a hot route's rule (in either order)."""

    class RustPathRule(base):  # type: ignore[valid-type,misc]
        def bind(self, map: Map, rebind: bool = False) -> None:
            if not rebind:
                state.check_rule(self)
                _refuse_collision(self, map, state)
            super().bind(map, rebind)

    return RustPathRule


def _refuse_collision(new: Rule, url_map: Map, state: RustPathState) -> None:
    shape = rule_shape(new.rule)
    # Flask adds HEAD and OPTIONS to every rule: they say nothing about a collision.
    methods = (new.methods or set()) - {"HEAD", "OPTIONS"}
    for rule in url_map.iter_rules():
        if rule is new or rule_shape(rule.rule) != shape or not (rule.methods or set()) & methods:
            continue
        hot = [r for r in (new, rule) if r.endpoint in state.routes]
        if hot:
            raise Misconfigured(
                f"URL rule {new.rule!r} ({new.endpoint}) collides with {rule.rule!r} "
                f"({rule.endpoint}); {hot[0].endpoint} is a hot route: give one of them "
                "another rule"
            )


class _AsciiIntegerConverter(IntegerConverter):
    """werkzeug's ``int`` converter, accepting ASCII digits only (``\\d`` also matches
    Arabic-Indic or fullwidth digits: one resource, many URLs) and refusing (404)
    rather than crashing (500) on a number too long for ``int()``."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> Any:
        # werkzeug's NumberConverter.to_python with int() guarded, in one frame as
        # werkzeug's own: every URL with an <int:…> pays for this converter.
        if self.fixed_digits and len(value) != self.fixed_digits:
            raise ValidationError()
        try:
            number = int(value)
        except ValueError:
            raise ValidationError() from None
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise ValidationError()
        return number


def _ascii_integers(url_map: Map) -> None:
    if url_map.converters.get("int") is IntegerConverter:
        url_map.converters["int"] = _AsciiIntegerConverter
