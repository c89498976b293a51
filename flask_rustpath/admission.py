"""Admission: an optional cap on concurrent kernel calls, with a bounded wait for a slot.

Why there is no cap by default
    A server already bounds its concurrency: gunicorn's ``workers x threads``,
    Granian's blocking threads, the front's own slots. A request beyond that waits in
    the server's bounded queue (gunicorn's ``backlog``, 2048 connections, and each
    gthread worker's ``worker_connections``) until a thread is free, and no request is
    refused. An extension that refused calls below that concurrency would turn a
    server sized for eight concurrent requests into one that answers 503 to the eighth,
    and a rollback to slow Python into an outage. So by default a call takes no slot:
    the server's threads are the admission, and the cost of each call is bounded by the
    argument limits and the deadline, which is what keeps ``/healthz`` answered.

Why a cap waits before it refuses
    ``RUSTPATH_CONCURRENCY`` (or a kernel's ``concurrency=``) is a deliberate cap, for
    a kernel that must not run more than so many at once (memory, a licence, a GIL-bound
    reference). A call that finds every slot taken waits for one, as a request waits in
    gunicorn's backlog and as the front waits for its slots, but only for a stated time,
    ``RUSTPATH_ADMISSION_WAIT``: then it is shed with 503 and ``Retry-After``. This is
    the blocking limiter with a timeout of Netflix's ``concurrency-limits``; Envoy's
    adaptive concurrency filter sheds at once instead, which suits a proxy with many
    upstreams to retry on, not one worker whose caller has nowhere else to go.

The fast path takes no lock: a slot is an item of a list, taken with ``list.pop`` and
given back with ``list.append``, both atomic under the GIL. Only a call that finds the
list empty takes the condition's lock to wait.
"""

from __future__ import annotations

import os
import threading
import weakref
from time import monotonic


class Gate:
    """At most ``limit`` calls inside at once; a call beyond waits up to ``wait`` seconds.

    ``enter()`` is ``True`` once the call holds a slot, ``False`` if none freed in time
    (the caller refuses the call); every ``True`` is paired with one ``leave()``.
    """

    __slots__ = ("__weakref__", "_changed", "_tokens", "_waiters", "limit", "wait")

    def __init__(self, limit: int, wait: float) -> None:
        if limit < 1:
            raise ValueError(f"admission needs at least one slot, got {limit}")
        if not wait >= 0:
            raise ValueError(f"the wait for a slot must be 0 or more seconds, got {wait}")
        self.limit = limit
        self.wait = wait
        self._reset()
        _GATES.add(self)

    def _reset(self) -> None:
        """Every slot free: at start, and in a forked child, where the parent's other
        threads (and the slots they held) do not exist."""
        self._tokens: list[None] = [None] * self.limit
        self._waiters = 0
        self._changed = threading.Condition(threading.Lock())

    @property
    def free(self) -> int:
        """Slots free now (for tests and the dashboard)."""
        return len(self._tokens)

    def enter(self) -> bool:
        try:
            self._tokens.pop()
        except IndexError:
            return self._wait_for_slot()
        return True

    def leave(self) -> None:
        self._tokens.append(None)
        # A waiter counts itself before it last looks at the list (see _wait_for_slot),
        # so when this read sees none, any later waiter finds the slot just given back.
        if self._waiters:
            with self._changed:
                self._changed.notify()

    def _wait_for_slot(self) -> bool:
        if self.wait == 0:
            return False
        give_up = monotonic() + self.wait
        with self._changed:
            self._waiters += 1
            try:
                while True:
                    try:
                        self._tokens.pop()
                    except IndexError:
                        pass
                    else:
                        return True
                    remaining = give_up - monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)
            finally:
                self._waiters -= 1


_GATES: weakref.WeakSet[Gate] = weakref.WeakSet()


def _reset_in_child() -> None:
    for gate in list(_GATES):
        gate._reset()


os.register_at_fork(after_in_child=_reset_in_child)


def enter_all(gates: tuple[Gate, ...]) -> bool:
    """Enter every gate in order (a kernel's own cap, then the worker-wide one); on a
    refusal, leave the ones entered and answer ``False``."""
    for index, gate in enumerate(gates):
        if not gate.enter():
            for entered in gates[:index]:
                entered.leave()
            return False
    return True


def leave_all(gates: tuple[Gate, ...]) -> None:
    for gate in gates:
        gate.leave()
