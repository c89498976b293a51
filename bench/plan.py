"""What a benchmark run measures: servers, HTTP rows, kernel cases, and their bounds.

A plan is plain data so that the same runner serves the shipped full and quick runs, and
any other plan a caller builds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .reference import KNOWN_SUMS, short_n


def usable_cores() -> int:
    """CPUs this process may run on (the affinity mask, not the host's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServerSpec:
    """One server on loopback; only documented settings vary.

    ``kind`` names the server (a key of ``bench.server.KINDS``): ``"gunicorn"`` with the
    shipped config, or ``"granian"``. ``threads`` is the threads per worker that run
    requests (gunicorn's gthread threads, Granian's blocking threads).
    """

    name: str
    workers: int
    threads: int
    env: Mapping[str, str] = field(default_factory=dict)
    app: str | None = None  # "module:create_app()" or "module:app"; None serves the demo
    ready_path: str = "/healthz"
    description: str = ""
    kind: str = "gunicorn"


@dataclass(frozen=True)
class HttpRow:
    """One URL driven by hey at several concurrencies on one server.

    ``key`` names the row's role (goals refer to roles, so quick runs with smaller ``n``
    still exercise the goal arithmetic). ``expect`` is checked once before the load: an
    ``int`` is the JSON ``result``, a ``str`` the exact body.
    """

    key: str
    label: str
    path: str
    server: str
    concurrency: tuple[int, ...]
    expect: int | str | None = None


@dataclass(frozen=True)
class KernelImpl:
    """One kernel implementation at one thread count, timed in-process or by primesieve."""

    impl: str  # "rust" (the sieve), "rust-sublinear", "numpy", "python-sieve", "primesieve"
    threads: int
    max_n: int | None = None
    max_n_reason: str = ""
    # Time grows like n**scaling (for skipping cases that would blow the budget).
    scaling: float = 1.0
    max_call_s: float | None = None  # overrides the plan's per-call budget

    @property
    def column(self) -> str:
        return f"{self.impl} {self.threads}t"


@dataclass(frozen=True)
class Plan:
    """Everything one run does, with the bounds that keep it short and safe."""

    mode: str
    servers: tuple[ServerSpec, ...]
    http_rows: tuple[HttpRow, ...]
    duration_s: float  # hey -z per row and concurrency
    warmup_s: float  # one discarded hey -z per row before the measured ones
    request_timeout_s: int  # hey -t
    kernel_ns: tuple[int, ...]
    kernel_impls: tuple[KernelImpl, ...]
    kernel_repeats: int  # at most this many timed calls after one warm-up
    kernel_case_budget_s: float  # fewer repeats (never below 3) when calls are slow
    kernel_max_call_s: float  # skip a case whose estimated single call exceeds this
    memory_n: int | None
    goal_n: Mapping[str, int]
    # Peak extra RSS of the sublinear method at this n (its own memory goal).
    sublinear_memory_n: int | None = None  # the n each goal is stated at, for the report's wording
    http: bool = True
    kernels: bool = True


def rust_key(n: int) -> str:
    """Row key of the Rust endpoint at ``n``: ``rust-1e5``."""
    return f"rust-{short_n(n)}"


def _sum_row(
    key: str, label: str, prefix: str, n: int, server: str, cs: tuple[int, ...]
) -> HttpRow:
    return HttpRow(key, label, f"{prefix}/sum_of_primes/{n}", server, cs, KNOWN_SUMS.get(n))


def default_plan(*, quick: bool = False, duration_s: float | None = None) -> Plan:
    """The demo app's plan: the issue's rows in full, or a ~1-minute smoke test."""
    cores = usable_cores()
    small, large = (10**4, 10**6) if quick else (10**5, 10**7)
    rust_ns = (10**4, 10**5, 10**6, 10**7) if quick else (10**5, 10**6, 10**7, 10**8)
    cs = (1, 4) if quick else (1, 8, 32)
    main = ServerSpec(
        "main",
        workers=2,
        threads=4,
        description="shipped config: 2 gthread workers x 4 threads, Rust pool of all cores",
    )
    # The same demo, workers and threads under Granian, a Rust HTTP server: rows keyed as
    # main's are compared with them in the report.
    granian = ServerSpec(
        "granian",
        workers=2,
        threads=4,
        kind="granian",
        description="Granian WSGI: 2 workers x 4 blocking threads, Rust pool of all cores",
    )
    # One worker, RUSTPATH_THREADS=1: each request is single-threaded, so any gain from
    # a second gunicorn thread comes from the GIL being released while the kernel runs.
    scaling = {"RUSTPATH_THREADS": "1"}
    gil1 = ServerSpec("gil-1t", 1, 1, scaling, description="1 worker x 1 thread, 1 Rust thread")
    gil2 = ServerSpec("gil-2t", 1, 2, scaling, description="1 worker x 2 threads, 1 Rust thread")
    sieve_scaling_n = 10**5 if quick else 10**6  # the pure-Python sieve is ~0.25 s at 1e7
    rows = [
        HttpRow(
            "hello", "Flask /hello (framework ceiling)", "/hello", "main", cs, "Hello, World!"
        ),
        _sum_row("python-naive", "Python trial division (blog)", "/python", small, "main", cs),
        _sum_row("python-sieve", "pure-Python sieve", "/python/sieve", small, "main", cs),
        _sum_row("numpy-small", "NumPy sieve", "/python/numpy", small, "main", cs),
        _sum_row("numpy-large", "NumPy sieve", "/python/numpy", large, "main", cs),
    ]
    rows += [_sum_row(rust_key(n), "Rust sieve", "/rust", n, "main", cs) for n in rust_ns]
    rows += [
        HttpRow(
            "hello", "Flask /hello (framework ceiling)", "/hello", "granian", cs, "Hello, World!"
        ),
        _sum_row(rust_key(small), "Rust sieve", "/rust", small, "granian", cs),
    ]
    for server in ("gil-1t", "gil-2t"):
        rows += [
            _sum_row("scaling-rust", "Rust sieve", "/rust", large, server, (2,)),
            _sum_row("scaling-numpy", "NumPy sieve", "/python/numpy", large, server, (2,)),
            _sum_row(
                "scaling-python",
                "pure-Python sieve",
                "/python/sieve",
                sieve_scaling_n,
                server,
                (2,),
            ),
        ]
    memory_cap = "O(n) memory: a byte per odd number plus a list of every prime (~2.5 GB at 1e9)"
    impls = (
        KernelImpl("rust", 1),
        KernelImpl("rust", cores),
        # O(n^(2/3)) time: from 10^14 to 10^15 takes ~5x, so allow the slower calls.
        KernelImpl("rust-sublinear", 1, scaling=0.75, max_call_s=60.0),
        KernelImpl("rust-sublinear", cores, scaling=0.75, max_call_s=60.0),
        KernelImpl("numpy", 1),
        KernelImpl("python-sieve", 1, max_n=10**8, max_n_reason=memory_cap),
        KernelImpl("primesieve", 1),
        KernelImpl("primesieve", cores),
    )
    return Plan(
        mode="quick" if quick else "full",
        servers=(main, granian, gil1, gil2),
        http_rows=tuple(rows),
        duration_s=duration_s or (1.0 if quick else 10.0),
        warmup_s=0.5 if quick else 2.0,
        request_timeout_s=30,
        kernel_ns=(10**5, 10**6, 10**7)
        if quick
        else tuple(10**k for k in range(6, 16)),  # the sieves stop near 1e10 by budget
        kernel_impls=impls,
        kernel_repeats=3 if quick else 5,
        kernel_case_budget_s=1.0 if quick else 8.0,
        kernel_max_call_s=1.0 if quick else 15.0,
        memory_n=10**9 if quick else 10**11,
        sublinear_memory_n=10**12 if quick else 10**15,
        goal_n={"small": small, "large": large, "kernel": 10**7 if quick else 10**9},
    )
