"""Locks that a forked child gets fresh, never as the parent's other threads left them.

gunicorn forks its workers from the master; with ``--preload`` the master has built
the app, and its background threads (the metrics flusher, a shadow pool's callbacks)
may hold a lock at the moment of the fork. The child inherits that lock held by a
thread that does not exist there, and the first request to take it would hang until
gunicorn's timeout. Every lock made here is replaced by a new one in the child.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any


class _Locks:
    """Objects whose lock attributes are renewed in a forked child."""

    def __init__(self) -> None:
        self._owners: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()
        os.register_at_fork(after_in_child=self._renew)

    def lock(self, owner: Any, attribute: str = "_lock") -> threading.Lock:
        """A new lock for ``owner.<attribute>``, renewed in any forked child."""
        self._owners[owner] = (*self._owners.get(owner, ()), attribute)
        return threading.Lock()

    def _renew(self) -> None:
        for owner, attributes in list(self._owners.items()):
            for attribute in attributes:
                setattr(owner, attribute, threading.Lock())


_LOCKS = _Locks()


def fork_safe_lock(owner: Any, attribute: str = "_lock") -> threading.Lock:
    """A lock for ``owner.<attribute>`` that a forked child gets fresh."""
    return _LOCKS.lock(owner, attribute)
