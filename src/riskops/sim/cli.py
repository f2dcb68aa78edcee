"""Commands of the ``sim`` package."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""

    @app.command("simulate")
    def simulate_command(
        out: Path = typer.Option(..., "--out", help="Directory to write into (created)."),
        accounts: int = typer.Option(1_000, "--accounts", min=10, help="Number of accounts."),
        days: int = typer.Option(30, "--days", min=1, help="Length of the window in days."),
        seed: int = typer.Option(1, "--seed", help="Random seed; same seed, same files."),
        fmt: str = typer.Option("ndjson", "--format", help="ndjson, parquet or both."),
        start: datetime = typer.Option(
            "2026-01-01", "--start", formats=["%Y-%m-%d"], help="First day (UTC)."
        ),
    ) -> None:
        """Simulate an exchange: events with planted, labelled fraud and AML scenarios."""
        # Heavy modules load only when the command runs, so `riskops --help` stays fast.
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from riskops.sim.generator import SimConfig
        from riskops.sim.writer import FORMATS, simulate

        if fmt not in FORMATS:
            raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
        config = SimConfig(
            accounts=accounts, days=days, seed=seed, start=date(start.year, start.month, start.day)
        )
        console = Console(stderr=True)
        # A rough size estimate for the bar; the real count is known only at the end.
        estimate = max(1, int(accounts * (1 + days * 1.2)))
        with Progress(
            TextColumn("[bold]simulating"),
            BarColumn(),
            TextColumn("{task.completed:,} events"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("events", total=estimate)

            def progress(done: int) -> None:
                bar.update(task, completed=done, total=max(estimate, done))

            result = simulate(config, out, fmt, progress=progress)
        table = Table(title=f"riskops simulate → {out}")
        table.add_column("what")
        table.add_column("count", justify="right")
        table.add_row("events", f"{result.events:,}")
        for kind, n in sorted(result.counts.items()):
            table.add_row(f"  {kind}", f"{n:,}")
        for typology, n in sorted(result.scenarios.items()):
            labelled = sum(1 for t in result.event_labels.values() if t == typology)
            table.add_row(f"scenario {typology}", f"{n} ({labelled} events)")
        console.print(table)
