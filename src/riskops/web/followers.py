"""The followers' child of ``riskops serve``: the log followers out of the API's process.

In the one-process embedded setup the background passes that write in batches (the links,
screening and accounts followers of the event log, case intake and housekeeping) would
share the server's GIL and, on SQLite, its write lock with the synchronous decision lane.
``FollowersProcess`` runs them in a child (``python -m riskops.worker --followers-of PID``)
that the server starts with itself, stops with itself, and starts again with backoff
(``kernel.retry.Backoff``) when it dies; the child ends with the server however the server
ends, SIGKILL too (``kernel.processes.die_with_parent``). ``/metrics`` shows whether it is up
and how often it was restarted. ADR 0029.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from riskops.kernel.config import Settings
from riskops.kernel.logging import get_logger
from riskops.kernel.retry import Backoff

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

log = get_logger(__name__)

# A child that ran this long before it died was healthy: the next one starts without delay
# growing from earlier failures.
STABLE_SECONDS = 30.0
# How long the child has to finish its pass and exit after SIGTERM before it is killed.
STOP_SECONDS = 10.0
_POLL_SECONDS = 0.1


def shareable(url: str) -> bool:
    """Whether another process can open the database of ``url`` (not an in-memory SQLite)."""
    return not (url.startswith("sqlite") and (url.rstrip("/") == "sqlite:" or ":memory:" in url))


class FollowersProcess:
    """Starts, watches and stops the followers' child of this server process.

    ``start()`` and the restarts run on the event loop's thread: ``die_with_parent`` ties
    the child to the thread that forked it, so never a worker thread that may end first."""

    def __init__(
        self,
        settings: Settings,
        *,
        backoff: Backoff | None = None,
        stable_seconds: float = STABLE_SECONDS,
        stop_seconds: float = STOP_SECONDS,
        cluster: bool = False,
    ) -> None:
        self.settings = settings
        self.cluster = cluster  # the monitor is the partition workers (riskops serve --bus nats)
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        self.stable_seconds = stable_seconds
        self.stop_seconds = stop_seconds
        self.restarts = 0
        self.last_exit: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._stopping: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """The running child's pid (None while it is down)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def command(self) -> list[str]:
        """``python -m riskops.worker --followers-of PID``, tied to this process before the
        worker's imports (``kernel.processes``)."""
        parent = str(os.getpid())
        tied = [sys.executable, "-m", "riskops.kernel.processes", parent]
        command = [*tied, "riskops.worker", "--followers-of", parent]
        return [*command, "--cluster"] if self.cluster else command

    def environment(self) -> dict[str, str]:
        """This process's environment with the settings the child must share with it (the
        server may have been handed settings that are not the environment's)."""
        settings = self.settings
        return {
            **os.environ,
            "RISKOPS_DATABASE_URL": settings.sqlalchemy_url,
            "RISKOPS_DATA_DIR": str(settings.data_dir),
            "RISKOPS_INTAKE_POLL_SECONDS": str(settings.intake_poll_seconds),
            "RISKOPS_HOUSEKEEPING_SECONDS": str(settings.housekeeping_seconds),
            "RISKOPS_NATS_STREAM": settings.nats_stream,
        }

    async def start(self) -> None:
        """Start the child and the task that watches it."""
        self._stopping = asyncio.Event()
        self._spawn()
        self._task = asyncio.create_task(self._watch(), name="followers-supervisor")

    def _spawn(self) -> None:
        self._process = subprocess.Popen(self.command(), env=self.environment())
        self._started = time.monotonic()
        log.info("followers.spawned", pid=self._process.pid, restarts=self.restarts)

    async def _watch(self) -> None:
        stopping = self._stopping
        assert stopping is not None
        while not stopping.is_set():
            process = self._process
            if process is not None and process.poll() is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), _POLL_SECONDS)
                continue
            if process is not None:  # it died (killed, or it crashed): start another
                self.last_exit = process.returncode
                if time.monotonic() - self._started >= self.stable_seconds:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                log.error(
                    "followers.died",
                    pid=process.pid,
                    exit=process.returncode,
                    failures=self.backoff.failures,
                    restart_in=round(delay, 2),
                )
                self._process = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
                if stopping.is_set():
                    return
            try:
                self.restarts += 1
                self._spawn()
            except OSError as exc:  # no fork (memory, pids): try again later
                log.error("followers.spawn_failed", error=type(exc).__name__)
                self._started = time.monotonic()

    async def stop(self) -> None:
        """Stop watching, ask the child to finish its pass (SIGTERM), kill it if it has
        not within ``stop_seconds``, and reap it."""
        if self._stopping is not None:
            self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
        try:
            await asyncio.to_thread(process.wait, self.stop_seconds)
        except subprocess.TimeoutExpired:
            log.warning("followers.killed", pid=process.pid)
            process.kill()
            await asyncio.to_thread(process.wait)
        self.last_exit = process.returncode

    def metrics(self) -> Iterator[Metric]:
        """For ``/metrics``: whether the child is up, how often it was restarted."""
        yield GaugeMetricFamily(
            "riskops_followers_up",
            "1 while the log followers' child process of the server runs.",
            value=int(self.pid is not None),
        )
        yield CounterMetricFamily(
            "riskops_followers_restarts",
            "Times the server started its log followers' child again after it died.",
            value=self.restarts,
        )
