"""kernel.processes: work in a forked child (ADR 0053): its bytes come back whole, it sees
the parent as at the fork, and a failing or stuck child is an error, never a hang."""

from __future__ import annotations

import os
import time

import pytest

from riskops.kernel.processes import ChildBytes, fork_child


def test_the_childs_bytes_come_back_whole_and_as_at_the_fork() -> None:
    state = {"value": b"before" * 1_000_000}  # 6 MB: more than a pipe holds

    def encode() -> bytes:
        time.sleep(0.3)  # the parent changes its state meanwhile
        return state["value"]

    child = ChildBytes.start(encode)
    assert child is not None
    state["value"] = b"after"
    assert child.result(timeout=30) == b"before" * 1_000_000


def test_a_failing_child_is_an_error() -> None:
    def fail() -> bytes:
        raise ValueError("no")

    child = ChildBytes.start(fail)
    assert child is not None
    with pytest.raises(RuntimeError, match="failed"):
        child.result(timeout=30)


def test_a_stuck_child_is_killed_at_the_timeout() -> None:
    def stuck() -> bytes:
        time.sleep(60)
        return b""

    child = ChildBytes.start(stuck)
    assert child is not None
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        child.result(timeout=0.5)
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped


def test_fork_child_runs_the_work_and_reports_its_end() -> None:
    read, write = os.pipe()
    pid = fork_child(lambda: os.write(write, b"done") and None)
    os.close(write)
    assert pid is not None
    assert os.read(read, 10) == b"done"
    os.close(read)
    assert os.waitpid(pid, 0)[1] == 0


def test_no_child_when_the_fork_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller then works itself; no descriptor is left open."""
    before = len(os.listdir("/proc/self/fd"))

    def refuse() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", refuse)
    assert ChildBytes.start(lambda: b"x") is None
    assert len(os.listdir("/proc/self/fd")) == before
