"""Admission: a bounded number of concurrent kernel calls per side, per worker.

A gunicorn worker has a few threads. Without a bound, a handful of anonymous clients
asking for the largest input pin every one of them, and ``/healthz`` and every other
page wait behind. A :class:`Gate` never queues: a call that finds every slot taken is
refused at once (the caller answers 503 with ``Retry-After``), so a busy kernel costs
its clients a retry, never the rest of the app its threads.
"""

from __future__ import annotations


class Gate:
    """At most ``limit`` holders at once; :meth:`try_enter` never blocks.

    The slots are tokens in a list: ``list.pop`` and ``list.append`` are atomic, so
    entering and leaving take no lock; the request path pops and appends ``tokens``
    directly.
    """

    __slots__ = ("limit", "tokens")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a gate needs at least one slot, got {limit}")
        self.limit = limit
        self.tokens: list[None] = [None] * limit

    def try_enter(self) -> bool:
        try:
            self.tokens.pop()
        except IndexError:
            return False
        return True

    def leave(self) -> None:
        self.tokens.append(None)

    @property
    def held(self) -> int:
        return self.limit - len(self.tokens)
