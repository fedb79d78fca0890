"""Bootstrap of fold-pool worker processes: bind the worker's life to its parent before anything heavy loads.

Kept free of heavy imports on purpose: a spawned worker imports this module and
calls :func:`bootstrap` first, so the death-signal and the parent watchdog are in
place within a fraction of a second, not after numpy/pandas/torch and the
pipeline's data have been loaded (which can take many seconds on a busy machine).
"""
from __future__ import annotations

import os
import pickle
import sys
import threading
import time

__all__ = ["bootstrap", "die_with_parent"]


def _watch_parent(parent: int, interval: float) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # orphaned: our folds are no longer wanted
        time.sleep(interval)


def die_with_parent(parent: int, interval: float = 1.0) -> None:
    """Make this (worker) process exit when ``parent`` dies, even by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Everywhere: a daemon thread that
    exits when the parent pid changes (re-parenting), which also covers the race
    where the parent died before the prctl call.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc: the watchdog remains
            pass
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, interval), daemon=True, name="parent-watchdog").start()


def bootstrap(parent: int, init_blob: bytes) -> None:
    """Pool initializer: tie this worker to ``parent``, then run the real initializer pickled in ``init_blob``."""
    die_with_parent(parent)
    func, args = pickle.loads(init_blob)
    func(*args)
