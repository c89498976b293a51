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

from .errors import Overloaded


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
        """Slots free now."""
        return len(self._tokens)

    def try_enter(self) -> bool:
        """Take a slot if one is free, without waiting."""
        try:
            self._tokens.pop()
        except IndexError:
            return False
        return True

    def enter(self) -> bool:
        """Take a slot, waiting up to ``wait`` seconds for one."""
        return self.try_enter() or self.enter_by(monotonic() + self.wait)

    def enter_by(self, give_up: float) -> bool:
        """Take a slot, waiting until the ``monotonic()`` time ``give_up`` at most."""
        with self._changed:
            self._waiters += 1
            try:
                while True:
                    if self.try_enter():
                        return True
                    remaining = give_up - monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(min(remaining, threading.TIMEOUT_MAX))
            finally:
                self._waiters -= 1

    def leave(self) -> None:
        """Give back a slot taken by ``enter``, ``enter_by`` or ``try_enter``."""
        self._tokens.append(None)
        # A waiter counts itself before it last looks at the list (see enter_by), so
        # when this read sees none, any later waiter finds the slot just given back.
        if self._waiters:
            with self._changed:
                self._changed.notify()


_GATES: weakref.WeakSet[Gate] = weakref.WeakSet()


def _reset_in_child() -> None:
    for gate in list(_GATES):
        gate._reset()


os.register_at_fork(after_in_child=_reset_in_child)


def enter_all(gates: tuple[Gate, ...]) -> bool:
    """Enter every gate in order (a kernel's own cap, then the worker-wide one), waiting
    at most one ``wait`` for all of them together; on a refusal, or on any exception,
    leave the ones entered."""
    entered = 0
    give_up: float | None = None
    try:
        for gate in gates:
            if not gate.try_enter():
                if give_up is None:
                    give_up = monotonic() + gate.wait
                if not gate.enter_by(give_up):
                    break
            entered += 1
    except BaseException:
        leave_all(gates[:entered])
        raise
    if entered == len(gates):
        return True
    leave_all(gates[:entered])
    return False


def leave_all(gates: tuple[Gate, ...]) -> None:
    for gate in gates:
        gate.leave()


def refusal_message(side: str, kernel_repr: str, wait: float, where: str = "this worker") -> str:
    """What a refused call says (see :func:`refusal`)."""
    return (
        f"the {side} side of {kernel_repr} is at its concurrency cap in {where} and "
        f"no slot freed within {wait:g} s; retry shortly"
    )


def refusal(kernel: str, side: str, wait: float, where: str = "this worker") -> Overloaded:
    """The 503 for a call of ``side`` of ``kernel`` that found no slot within ``wait``
    seconds, from Python or, with ``where="the front"``, from the front (which is sent
    this error's body and headers for each of its native routes)."""
    return Overloaded(refusal_message(side, repr(kernel), wait, where), kernel=kernel, side=side)
