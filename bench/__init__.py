"""Benchmark harness for flask-rustpath (``python -m bench``).

Library first: :func:`run` executes a :class:`Plan` (servers, URLs, kernel cases and
their bounds) and writes raw JSON plus ``REPORT.md``; ``python -m bench`` only builds the
default plan and picks directories. See ``bench/README.md``.
"""

from .plan import HttpRow, KernelImpl, Plan, ServerSpec, default_plan
from .runner import BenchError, RunOutput, rerender, run

__all__ = [
    "BenchError",
    "HttpRow",
    "KernelImpl",
    "Plan",
    "RunOutput",
    "ServerSpec",
    "default_plan",
    "rerender",
    "run",
]
