"""The monitor worker: tails the event log in the foreground until told to stop.

``python -m riskops.monitor.worker [--once] [--batch N]`` or ``riskops worker``. SIGTERM and
SIGINT finish the current batch, write a snapshot and exit; ``--once`` processes what is in
the log, then exits with a summary.

Between batches it also runs the case tasks (``riskops.cases.tasks``): housekeeping, and the
delivery of the intake outbox (the case alerts its batches wrote) every
``RISKOPS_INTAKE_POLL_SECONDS`` and once more before ``--once`` exits; the worker loop is
the process's one drainer.

A lost database never ends it: opening the database and every pass are retried with
backoff (``riskops.kernel.retry.Backoff``) until it answers again.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from riskops.cases.tasks import delivery_pass, housekeeping_pass
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database
from riskops.kernel.logging import get_logger
from riskops.kernel.retry import Backoff
from riskops.monitor.runtime import MonitorRuntime, tune_gc
from riskops.monitor.service import BatchResult

log = get_logger(__name__)
T = TypeVar("T")


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
) -> Summary:
    """Run the tail loop until the log is drained (``once``) or ``stop`` is set.

    A lost database never ends the process: opening it, loading the rules and every pass
    of the loop (housekeeping, delivery, a batch) are retried with ``backoff`` (exponential,
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
    next_housekeeping = next_delivery = 0.0
    try:
        while not stop.is_set():
            try:
                if settings.housekeeping_seconds > 0 and time.monotonic() >= next_housekeeping:
                    housekeeping_pass(runtime.sessions)
                    next_housekeeping = time.monotonic() + settings.housekeeping_seconds
                if settings.intake_poll_seconds > 0 and time.monotonic() >= next_delivery:
                    delivery_pass(runtime.sessions)
                    next_delivery = time.monotonic() + settings.intake_poll_seconds
                result = runtime.step()
                if not result.read and once:
                    delivery_pass(runtime.sessions)  # the cases exist when --once returns
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="riskops-worker", description=__doc__)
    parser.add_argument("--once", action="store_true", help="process the log, then exit")
    parser.add_argument("--batch", type=int, default=2_000, help="events per transaction")
    args = parser.parse_args(argv)
    from riskops.kernel.logging import configure_logging

    configure_logging()
    stop = threading.Event()
    install_signal_handlers(stop)
    run(once=args.once, batch=args.batch, stop=stop, console=Console())


if __name__ == "__main__":
    main()
