"""Child processes that end with their parent, however the parent ends (SIGKILL too).

A child left behind by a killed parent (an ingest worker, a snapshot writer) would hold
what it inherited: connections, locks, memory. Used by ``events.tasks`` and ``monitor.runtime``.

``fork_child`` and ``ChildBytes``: work done in a forked child, a copy-on-write image of
this process at the fork, so that a large state can be encoded while the parent goes on
changing it (as Redis does its background saves): the monitor's snapshot file, a
partition's snapshot (ADR 0053).

``python -m riskops.kernel.processes PARENT MODULE [ARG...]`` runs ``python -m MODULE
[ARG...]`` tied to ``PARENT`` from its first milliseconds, before ``MODULE``'s imports (a
second or more on a loaded machine, during which a parent's death would go unnoticed): how
``riskops serve`` starts its followers' child (ADR 0029).
"""

from __future__ import annotations

import ctypes
import gc
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable

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


CHILD_ALARM_SECONDS = 300


def fork_child(work: Callable[[], None]) -> int | None:
    """Run ``work`` in a forked child and return its pid (None where there is no fork).

    The child sees this process as it is at the fork. It ends when ``work`` returns (status
    0) or raises (1), when this process ends, and after ``CHILD_ALARM_SECONDS`` in any case:
    a lock another thread held at the fork stays held in the child, so ``work`` must take
    no lock and use no connection of this process. It runs no cleanup (``os._exit``), and
    the signals this process handles (an event loop's, a server's) are the defaults'
    there, so that a Ctrl-C reaching the child does not reach this process's handlers."""
    if not hasattr(os, "fork"):
        return None
    parent = os.getpid()
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        gc.disable()  # a collection would touch (and so copy) every page of the image
        die_with_parent(parent)
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
        except ValueError:  # not the main thread: nothing of the parent's to undo
            pass
        signal.alarm(CHILD_ALARM_SECONDS)
        work()
        code = 0
    finally:
        os._exit(code)


class ChildBytes:
    """Bytes made by ``work`` in a forked child (``fork_child``) and read back through a
    pipe: ``start`` returns once the child exists, so that the caller may release the lock
    that kept its state still; ``result`` waits for the bytes."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd

    @classmethod
    def start(cls, work: Callable[[], bytes]) -> ChildBytes | None:
        """The child at work, or None where there is no fork or it failed (the caller
        works itself)."""
        if not hasattr(os, "fork"):
            return None
        read, write = os.pipe()

        def send() -> None:
            os.close(read)
            view = memoryview(work())
            while view:
                view = view[os.write(write, view) :]

        try:
            pid = fork_child(send)
        except OSError:  # no memory or no process left for a child: the caller works
            pid = None
        finally:
            os.close(write)
        if pid is None:
            os.close(read)
            return None
        return cls(pid, read)

    def result(self, timeout: float) -> bytes:
        """The child's bytes. RuntimeError if it failed, TimeoutError (the child killed) if
        it took longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                    os.kill(self.pid, signal.SIGKILL)
                    raise TimeoutError(f"the child took more than {timeout:g} s")
                part = os.read(self._fd, 1 << 20)
                if not part:
                    break
                parts.append(part)
        finally:
            os.close(self._fd)
            _, status = os.waitpid(self.pid, 0)
        if status != 0:
            raise RuntimeError(f"the child failed (wait status {status})")
        return b"".join(parts)


def _main(argv: list[str]) -> None:
    parent, module, *args = argv
    die_with_parent(int(parent))
    import runpy

    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
