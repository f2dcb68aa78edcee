"""Helpers of the kill tests: run a real ``riskops`` command, find its processes, kill it.

Shared by ``tests/events/test_ingest_kill.py`` and ``tests/monitor/test_kill.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import Engine

from support import POSTGRES_URL

RISKOPS = str(Path(sys.executable).with_name("riskops"))
GONE_WITHIN_SECONDS = 5.0


def database_url(engine: Engine) -> str:
    """The URL another process opens to reach the test's database (its own schema on
    PostgreSQL, given as the ``search_path`` option)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    return f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"


def environment(engine: Engine, data_dir: Path) -> dict[str, str]:
    """The environment of a ``riskops`` command on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_")}
    env.update(
        RISKOPS_DATABASE_URL=database_url(engine),
        RISKOPS_DATA_DIR=str(data_dir),
        RISKOPS_LOG_LEVEL="WARNING",
    )
    return env


def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``riskops *args`` as a subprocess (its own process group, so nothing of it can
    outlive the test unseen)."""
    return subprocess.Popen(
        [RISKOPS, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def in_group(group: int) -> set[int]:
    """Every living process of the process group ``group`` (zombies excluded)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == group:
            found.add(int(entry.name))
    return found


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Wait until ``condition()`` holds (polled), or fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _reaped(proc: subprocess.Popen[bytes]) -> None:
    proc.wait(timeout=30)
    for pipe in (proc.stdout, proc.stderr):  # an orphan may hold their other ends open
        if pipe is not None:
            pipe.close()


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill what is left of ``proc``'s process group, reap ``proc``, close its pipes."""
    reap_group(proc.pid)
    _reaped(proc)


def kill_and_reap(proc: subprocess.Popen[bytes]) -> set[int]:
    """SIGKILL ``proc`` alone (not its group), reap it, and return the processes of its
    group still alive after ``GONE_WITHIN_SECONDS`` (its orphans, if any)."""
    proc.kill()
    _reaped(proc)
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while (left := in_group(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def reap_group(group: int) -> None:
    """Kill what is left of a process group (after a failed assertion: no stray processes)."""
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def free_port() -> int:
    """A loopback TCP port nobody listens on (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
