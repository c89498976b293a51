"""Admission: a bounded number of concurrent kernel calls per side, per worker.

A gunicorn worker has a few threads. Without a bound, a handful of anonymous clients
asking for the largest input pin every one of them, and ``/healthz`` and every other
page wait behind. A slot is never waited for: a call that finds every slot taken is
refused at once (the caller answers 503 with ``Retry-After``), so a busy kernel costs
its clients a retry, never the rest of the app its threads.
"""

from __future__ import annotations


def slots(limit: int) -> list[None]:
    """``limit`` admission tokens.

    A call takes one with ``list.pop`` (``IndexError``: none left, refuse) and gives it
    back with ``list.append``; both are atomic, so the request path takes no lock.
    """
    if limit < 1:
        raise ValueError(f"admission needs at least one slot, got {limit}")
    return [None] * limit
