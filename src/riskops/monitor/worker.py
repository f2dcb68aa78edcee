"""The monitor worker: tails the event log in the foreground until told to stop.

``python -m riskops.monitor.worker [--once] [--batch N]`` or ``riskops worker``. SIGTERM and
SIGINT finish the current batch, write a snapshot and exit; ``--once`` processes what is in
the log, then exits with a summary.

Between batches it also runs the case tasks (``riskops.cases.tasks``): housekeeping, and the
delivery of the intake outbox (the case alerts its batches wrote) every
``RISKOPS_INTAKE_POLL_SECONDS`` and once more before ``--once`` exits; the worker loop is
the process's one drainer.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from types import FrameType

from rich.console import Console
from rich.table import Table

from riskops.cases.tasks import delivery_pass, housekeeping_pass
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database
from riskops.kernel.logging import get_logger
from riskops.monitor.runtime import MonitorRuntime, tune_gc
from riskops.monitor.service import BatchResult

log = get_logger(__name__)


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
) -> Summary:
    """Run the tail loop until the log is drained (``once``) or ``stop`` is set."""
    settings = settings or get_settings()
    stop = stop or threading.Event()
    engine = open_database(settings.sqlalchemy_url)
    runtime = MonitorRuntime.create(settings, engine, batch_size=batch)
    tune_gc()
    summary = Summary()
    log.info("monitor.worker_started", seq=runtime.seq, batch=batch)
    next_housekeeping = next_delivery = 0.0
    try:
        while not stop.is_set():
            if settings.housekeeping_seconds > 0 and time.monotonic() >= next_housekeeping:
                housekeeping_pass(runtime.sessions)
                next_housekeeping = time.monotonic() + settings.housekeeping_seconds
            if settings.intake_poll_seconds > 0 and time.monotonic() >= next_delivery:
                delivery_pass(runtime.sessions)
                next_delivery = time.monotonic() + settings.intake_poll_seconds
            try:
                result = runtime.step()
            except Exception as exc:  # state is rebuilt; retry after a pause
                log.error("monitor.batch_failed", error=repr(exc), seq=runtime.seq)
                stop.wait(1.0)
                continue
            summary.add(result)
            if not result.events:
                if once:
                    delivery_pass(runtime.sessions)  # the cases exist when --once returns
                    break
                stop.wait(runtime.poll_interval)
    finally:
        runtime.snapshot()
        engine.dispose()
        log.info("monitor.worker_stopped", seq=runtime.seq)
    if console is not None:
        summary.render(console)
    return summary


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
