"""The monitor worker: tails the event log in the foreground until told to stop.

Started by ``riskops worker`` or ``python -m riskops.worker [--once] [--batch N]``. SIGTERM and
SIGINT finish the current batch, write a snapshot and exit; ``--once`` processes what is in
the log, then exits with a summary.

Between batches it runs the ``Periodic`` tasks its caller hands it, each when it is due and,
if ``final``, once more before ``--once`` exits. The monitor knows nothing of who they are:
the composition at the top (``riskops.worker``) passes the case tasks (housekeeping, the
delivery of the case alerts the batches wrote), so the worker loop is the process's one
drainer while the monitor imports no ``cases``.

A lost database never ends it: opening the database and every pass are retried with
backoff (``riskops.kernel.retry.Backoff``) until it answers again.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TypeVar

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database
from riskops.kernel.logging import get_logger
from riskops.kernel.retry import Backoff
from riskops.monitor.runtime import MonitorRuntime, tune_gc
from riskops.monitor.service import BatchResult

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Periodic:
    """Work the loop runs between batches: ``run(sessions)`` every ``every_s`` seconds (never
    when ``every_s`` is 0), and once more when ``--once`` has drained the log if ``final``.
    ``run`` owns its transactions and logs its own errors; one that raises is retried with
    the loop's backoff."""

    name: str
    every_s: float
    run: Callable[[sessionmaker[Session]], object]
    final: bool = False


class Summary:
    """Totals of a run, for the console."""

    def __init__(self) -> None:
        self.result = BatchResult()
        self.started = time.perf_counter()

    def add(self, result: BatchResult) -> None:
        self.result.merge(result, latencies=False)

    def render(self, console: Console) -> None:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        r = self.result
        console.print(
            f"processed {r.events:,} events ({r.rows:,} rows) in {seconds:.2f} s: "
            f"{r.events / seconds:,.0f} events/s; last seq {r.last_seq}"
        )
        outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(r.outcomes.items())) or "none"
        console.print(f"decisions by outcome: {outcomes}; stored {r.stored:,}")
        table = Table(title="alerts per rule")
        table.add_column("rule")
        table.add_column("alerts", justify="right")
        for rule_id, count in sorted(r.alerts.items()):
            table.add_row(rule_id, f"{count:,}")
        console.print(table)


def run(
    settings: Settings | None = None,
    *,
    once: bool = False,
    batch: int = 2_000,
    stop: threading.Event | None = None,
    console: Console | None = None,
    backoff: Backoff | None = None,
    tasks: Sequence[Periodic] = (),
) -> Summary:
    """Run the tail loop until the log is drained (``once``) or ``stop`` is set, with
    ``tasks`` between batches.

    A lost database never ends the process: opening it, loading the rules and every pass
    of the loop (the due tasks, a batch) are retried with ``backoff`` (exponential,
    with jitter) until it answers again; the monitor then goes on from its snapshot and
    checkpoint, and the first pass after a success starts the backoff over.
    """
    settings = settings or get_settings()
    stop = stop or threading.Event()
    backoff = backoff or Backoff()
    summary = Summary()
    started = _until_it_works(lambda: _start(settings, batch), stop, backoff, "monitor.start")
    if started is None:  # stopped before the database ever answered
        return summary
    engine, runtime = started
    tune_gc()
    log.info("monitor.worker_started", seq=runtime.seq, batch=batch)
    due = [0.0] * len(tasks)
    try:
        while not stop.is_set():
            try:
                for i, task in enumerate(tasks):
                    if task.every_s > 0 and time.monotonic() >= due[i]:
                        task.run(runtime.sessions)
                        due[i] = time.monotonic() + task.every_s
                result = runtime.step()
                if not result.read and once:
                    for task in tasks:  # e.g. the cases exist when --once returns
                        if task.final:
                            task.run(runtime.sessions)
            except Exception as exc:  # the state is rebuilt; wait longer after each failure
                delay = backoff.next_delay()
                log.error(
                    "monitor.worker_pass_failed",
                    error=type(exc).__name__,  # a database error's message carries values
                    seq=runtime.seq,
                    failures=backoff.failures,
                    retry_in=round(delay, 2),
                )
                stop.wait(delay)
                continue
            backoff.reset()
            summary.add(result)
            if not result.read:
                if once:
                    break
                stop.wait(runtime.poll_interval)
    finally:
        try:
            runtime.snapshot()
        except OSError as exc:  # the next start replays a little more; nothing is lost
            log.warning("monitor.snapshot_failed", error=repr(exc))
        engine.dispose()
        log.info("monitor.worker_stopped", seq=runtime.seq)
    if console is not None:
        summary.render(console)
    return summary


def _start(settings: Settings, batch: int) -> tuple[Engine, MonitorRuntime]:
    """The database (migrated) and the runtime (rules, snapshot, quarantine list)."""
    engine = open_database(settings.sqlalchemy_url)
    try:
        return engine, MonitorRuntime.create(settings, engine, batch_size=batch)
    except BaseException:
        engine.dispose()
        raise


def _until_it_works(
    attempt: Callable[[], T], stop: threading.Event, backoff: Backoff, what: str
) -> T | None:
    """``attempt()`` until it succeeds (None if ``stop`` is set first)."""
    while not stop.is_set():
        try:
            value = attempt()
        except Exception as exc:
            delay = backoff.next_delay()
            log.error(
                f"{what}_failed",
                error=type(exc).__name__,
                failures=backoff.failures,
                retry_in=delay,
            )
            stop.wait(delay)
            continue
        backoff.reset()
        return value
    return None


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM / SIGINT: finish the batch, snapshot, exit."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
