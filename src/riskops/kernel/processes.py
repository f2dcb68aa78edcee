"""Child processes that end with their parent, however the parent ends (SIGKILL too).

A child left behind by a killed parent (an ingest worker, a snapshot writer) would hold
what it inherited: connections, locks, memory. Used by ``events.tasks`` and ``monitor.runtime``.

``python -m riskops.kernel.processes PARENT MODULE [ARG...]`` runs ``python -m MODULE
[ARG...]`` tied to ``PARENT`` from its first milliseconds, before ``MODULE``'s imports (a
second or more on a loaded machine, during which a parent's death would go unnoticed): how
``riskops serve`` starts its followers' child (ADR 0029).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_PARENT_CHECK_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """Make this (child) process end when ``parent`` ends, however it ends (SIGKILL too).

    A worker left behind by a killed ingest would wait for work for ever, holding what it
    inherited. On Linux the kernel sends SIGKILL to it when its parent dies
    (``PR_SET_PDEATHSIG``); elsewhere, or where ``prctl`` is refused, a daemon thread
    checks the parent's pid and ends the process when it has changed. A parent that died
    before either was in place is noticed here, at once."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            _watch_parent(parent)  # not allowed here (a seccomp profile): poll instead
    else:
        _watch_parent(parent)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(1)  # nothing of a worker needs cleaning up: its results went to the parent

    threading.Thread(target=watch, name="riskops-parent-watch", daemon=True).start()


def _main(argv: list[str]) -> None:
    parent, module, *args = argv
    die_with_parent(int(parent))
    import runpy

    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
