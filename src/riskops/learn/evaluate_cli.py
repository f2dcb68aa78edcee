"""The evaluate command: the published AMLworld protocol on a transaction file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

FORMATS = ("amlworld",)


def register(app: typer.Typer) -> None:
    """Add ``riskops evaluate`` to the ``riskops`` command line."""

    @app.command("evaluate")
    def evaluate_command(
        events: Annotated[
            Path, typer.Option("--events", help="transaction file (AMLworld *_Trans.csv[.gz])")
        ],
        out: Annotated[Path, typer.Option("--out", help="SCORES.csv to write")],
        fmt: Annotated[str, typer.Option("--format", help="file format: amlworld")] = "amlworld",
        patterns: Annotated[
            Path | None,
            typer.Option("--patterns", help="patterns file (row,typology) for recall per typology"),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", min=0, help="model seed")] = 1,
        threads: Annotated[int, typer.Option("--threads", min=1, max=64)] = 2,
        engine: Annotated[
            str, typer.Option("--engine", help="feature engine: duckdb, or spark (local PySpark)")
        ] = "duckdb",
    ) -> None:
        """Split whole days 60/20/20, train on train days, pick the threshold on validation
        days, report laundering precision/recall/F1 on test days, write one score per row."""
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from riskops.learn.batch import MalformedFile
        from riskops.learn.evaluate import evaluate, write_scores
        from riskops.learn.spark import check_engine

        console = Console(log_path=False)
        if (reason := check_engine(engine)) is not None:
            console.print(f"[red]error:[/red] {reason}", soft_wrap=True)
            raise typer.Exit(1)
        if fmt not in FORMATS:
            raise typer.BadParameter(f"unknown format {fmt!r}; use amlworld", param_hint="--format")
        if not out.parent.is_dir():
            raise typer.BadParameter(f"no such directory: {out.parent}", param_hint="--out")
        started = time.perf_counter()
        columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn())
        try:
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("starting", total=None)

                def say(step: str) -> None:
                    console.log(step)
                    bar.update(task, description=step)

                result = evaluate(
                    events,
                    seed=seed,
                    patterns=patterns,
                    threads=threads,
                    progress=say,
                    engine=engine,
                )
                say(f"writing {out.name}")
                write_scores(result, out)
        except (MalformedFile, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as exc:
            console.print(
                f"[red]error:[/red] {exc.strerror or exc}: {exc.filename or ''}", soft_wrap=True
            )
            raise typer.Exit(1) from None
        m = result.test
        train_days, val_days, test_days = result.days
        table = Table(title=f"test days ({test_days}; train {train_days}, validation {val_days})")
        for column in ("measure", "value"):
            table.add_column(column)
        table.add_row("threshold (chosen on validation)", f"{result.threshold:.4g}")
        table.add_row("validation F1", f"{result.val_f1:.3f}")
        table.add_row("precision", f"{m.precision:.3f}")
        table.add_row("recall", f"{m.recall:.3f}")
        table.add_row("laundering F1", f"[bold]{m.f1:.3f}")
        table.add_row("flagged / laundering", f"{m.flagged:,} / {m.tp + m.fn:,}")
        for name, r in result.by_typology.items():
            table.add_row(f"recall {name}", f"{r.recall:.3f} ({r.tp}/{r.tp + r.fn})")
        console.print(table)
        console.print(
            f"wrote {out} ({len(result.score):,} rows) in {time.perf_counter() - started:.1f} s"
        )
