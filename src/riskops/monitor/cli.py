"""Commands of the ``monitor`` package."""

from __future__ import annotations

import threading

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""

    @app.command("worker")
    def worker(
        once: bool = typer.Option(False, "--once", help="Process what is in the log, then exit."),
        batch: int = typer.Option(2_000, "--batch", min=1, help="Events per transaction."),
    ) -> None:
        """Run the monitor: tail the event log, decide, write alerts and holds."""
        from rich.console import Console

        from riskops.monitor.worker import install_signal_handlers, run

        stop = threading.Event()
        install_signal_handlers(stop)
        run(once=once, batch=batch, stop=stop, console=Console())
