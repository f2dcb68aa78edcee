"""`riskops serve` runs the log followers in a child process it supervises (ADR 0029).

Real processes: the server (``riskops serve``) and its child (``python -m riskops.worker
--followers-of PID``). The child does the followers' work with no worker beside the server,
is started again after it is killed, and ends with the server, SIGKILL too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from processes import (
    environment,
    free_port,
    in_group,
    kill_and_reap,
    start,
    stop_group,
    wait_for,
)
from riskops.kernel.config import Settings
from riskops.web.deps import Container
from support import bearer, token_for


def _children_of(server: int) -> set[int]:
    """The followers' children of ``server`` alive now (by their command line)."""
    found = set()
    for pid in in_group(server):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--followers-of" in command and command[command.index(b"--followers-of") + 1] == (
            str(server).encode()
        ):
            found.add(pid)
    return found


def _child_of(server: int, other_than: int | None = None) -> int:
    found: list[int] = []

    def one() -> bool:
        found[:] = sorted(_children_of(server) - {other_than})
        return len(found) == 1

    wait_for(one, "the followers' child of the server")
    return found[0]


def _metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], base: str) -> None:
        self.proc, self.base = proc, base

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
        try:
            return httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture
def served(engine: Engine, tmp_path: Path) -> Iterator[Served]:
    """``riskops serve`` on the test's database, followers on (the default), ready."""
    port = free_port()
    env = environment(engine, tmp_path) | {"RISKOPS_INTAKE_POLL_SECONDS": "0.2"}
    proc = start(env, "serve", "--port", str(port))
    server = Served(proc, f"http://127.0.0.1:{port}")
    try:
        wait_for(server.ready, "the server to be ready", seconds=180)
        yield server
    finally:
        stop_group(proc)


def _created(event_id: str, account: str, device: str) -> dict[str, str]:
    return {
        "type": "account.created",
        "event_id": event_id,
        "account_id": account,
        "occurred_at": "2026-11-24T12:00:00Z",
        "device_id": device,
    }


def test_the_child_follows_the_log_for_the_server(served: Served, engine: Engine) -> None:
    """Events ingested over the API end up in the linked-accounts graph with no worker: the
    followers' child of the server keeps it. SIGTERM ends the server and its child."""
    child = _child_of(served.proc.pid)
    assert _metric(served.base, "riskops_followers_up") == 1
    events = [_created("sf-1", "sf-a", "sf-dev"), _created("sf-2", "sf-b", "sf-dev")]
    ingest = bearer(token_for(engine, ["event:ingest"], name="ingest"))
    answer = httpx.post(f"{served.base}/v1/events", json=events, headers=ingest, timeout=30)
    assert answer.status_code == 202 and answer.json()["accepted"] == 2, answer.text
    viewer = bearer(token_for(engine, ["account:view"], name="viewer"))

    def linked() -> bool:
        who = httpx.get(
            f"{served.base}/v1/links",
            params={"kind": "device", "value": "sf-dev"},
            headers=viewer,
            timeout=10,
        )
        assert who.status_code in (200, 404), who.text
        return who.status_code == 200 and {u["account_id"] for u in who.json()["items"]} == {
            "sf-a",
            "sf-b",
        }

    wait_for(linked, "the links graph to hold both accounts")
    assert _children_of(served.proc.pid) == {child}  # the same child did it all
    served.proc.terminate()  # uvicorn shuts down (the lifespan stops the child), then
    assert served.proc.wait(timeout=30) in (0, -signal.SIGTERM)  # re-raises the signal
    wait_for(lambda: not in_group(served.proc.pid), "the child to end with the server")
    assert served.proc.stderr is not None
    assert b"followers.killed" not in served.proc.stderr.read()  # it stopped when asked


def test_the_child_is_restarted_and_dies_with_the_server(served: Served) -> None:
    """A killed child is started again (with backoff), and counted in /metrics; when the
    server is SIGKILLed the child ends too (nothing of the group is left)."""
    first = _child_of(served.proc.pid)
    os.kill(first, signal.SIGKILL)
    second = _child_of(served.proc.pid, other_than=first)
    assert second != first
    wait_for(lambda: _metric(served.base, "riskops_followers_restarts_total") == 1, "a restart")
    assert _metric(served.base, "riskops_followers_up") == 1
    assert kill_and_reap(served.proc) == set()


def test_a_served_container_runs_no_follower_in_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's process keeps the monitor (the decision lane needs it) and starts the
    child for the rest; with RISKOPS_SERVE_FOLLOWERS off it starts none and runs no case
    task either (the worker beside it runs the followers, case intake and housekeeping:
    ADR 0046). Either way it warms the intelligence data in the background."""
    from riskops import worker
    from riskops.kernel.db import open_database

    warmed: list[bool] = []
    monkeypatch.setattr(worker, "warm_intel", lambda: warmed.append(True))

    async def run(box: Container) -> tuple[set[str], int | None]:
        await box.start()
        try:
            followers = box.followers
            pid = followers.pid if followers is not None else None
            return {task.get_name() for task in box._tasks}, pid
        finally:
            await box.stop()

    for on in (True, False):
        settings = Settings(data_dir=tmp_path, serve_followers=on)
        engine = open_database(settings.sqlalchemy_url)
        box = Container(settings, engine, served=True)
        names, pid = asyncio.run(run(box))
        engine.dispose()
        if on:
            assert names == set() and pid is not None
            assert box.followers is not None and box.followers.pid is None  # stopped, reaped
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        else:
            assert names == set() and box.followers is None
    assert warmed == [True, True]


def test_the_worker_warms_the_intelligence_data_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops import worker

    warmed: list[bool] = []
    monkeypatch.setattr(worker, "warm_intel", lambda: warmed.append(True))
    worker.run(Settings(data_dir=tmp_path), once=True)
    assert warmed == [True]
