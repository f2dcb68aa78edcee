"""Commands of the cluster package: ``riskops publish`` and ``riskops status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_FORMATS = "auto|ndjson|csv|parquet|amlworld"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``riskops`` command line."""

    @app.command("publish")
    def publish(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        partitions: Annotated[
            int, typer.Option(min=1, max=4096, help="N of the subject mapping (crc32 % N)")
        ] = 8,
        fmt: Annotated[str, typer.Option("--format", help=_FORMATS)] = "auto",
        per_message: Annotated[
            int,
            typer.Option(
                min=1,
                max=200,
                help="events packed per NATS message (NDJSON, file order kept); 1: one each",
            ),
        ] = 1,
    ) -> None:
        """Publish an event file (any format `riskops ingest` reads) to the NATS stream
        (RISKOPS_NATS_STREAM, subjects RISKOPS_NATS_SUBJECT.<partition>)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from riskops.cluster.publisher import publish_file
        from riskops.events.adapters import (
            FORMATS,
            UnknownFormat,
            UnreadableFile,
            detect_format,
            known_rows,
        )
        from riskops.kernel.config import get_settings

        console = Console()
        if fmt != "auto" and fmt not in FORMATS:
            raise typer.BadParameter(
                f"unknown format {fmt!r}; use {_FORMATS}", param_hint="--format"
            )
        try:
            chosen = detect_format(file) if fmt == "auto" else fmt
            total = known_rows(file, chosen)
        except UnknownFormat as exc:
            raise typer.BadParameter(str(exc), param_hint="FILE") from None
        except UnreadableFile as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        settings = get_settings()
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
        try:
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(f"publishing {file.name} ({chosen})", total=total)
                report = publish_file(
                    settings.nats_url,
                    settings.nats_stream,
                    settings.nats_subject,
                    file,
                    chosen,
                    partitions=partitions,
                    per_message=per_message,
                    progress=lambda n: bar.advance(task, n),
                )
        except UnreadableFile as exc:
            console.print(f"[red]error:[/red] {exc}")
            console.print("The rows before it were published; publishing again adds only the rest.")
            raise typer.Exit(1) from None
        except (OSError, TimeoutError) as exc:
            console.print(f"[red]error:[/red] NATS at {settings.nats_url}: {type(exc).__name__}")
            raise typer.Exit(1) from None
        console.print(
            f"published {report.published:,}  duplicates dropped by the server "
            f"{report.duplicates:,}  rejected {report.rejected:,}"
        )
        for row, reason in report.reasons:
            console.print(f"  row {row}: {reason}", markup=False, highlight=False)
        if report.rejected > len(report.reasons):
            console.print(f"  ... and {report.rejected - len(report.reasons):,} more")
        if report.rejected:
            raise typer.Exit(2)

    @app.command("status")
    def status(
        stream: Annotated[str | None, typer.Option(help="default: RISKOPS_NATS_STREAM")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Show each partition of the stream: owner, lag, last snapshot, second rows owed."""
        import asyncio

        import msgspec
        from rich.console import Console
        from rich.table import Table

        from riskops.cluster.status import cluster_status, stream_last_seq
        from riskops.kernel.clock import utcnow
        from riskops.kernel.config import get_settings
        from riskops.kernel.db import open_database, session_factory

        settings = get_settings()
        name = stream or settings.nats_stream
        console = Console()
        try:
            engine = open_database(settings.sqlalchemy_url)
        except Exception as exc:
            console.print(f"[red]error:[/red] the database does not answer ({type(exc).__name__})")
            raise typer.Exit(1) from None
        last = asyncio.run(stream_last_seq(settings.nats_url, name))
        try:
            with session_factory(engine)() as session:
                found = cluster_status(session, name, last, utcnow())
        finally:
            engine.dispose()
        if as_json:
            typer.echo(msgspec.json.encode(found).decode())
        else:
            end = "unknown (NATS not reachable)" if last is None else f"{last:,}"
            console.print(f"stream {name}: last sequence {end}")
            table = Table(
                "partition", "owner", "lease left", "checkpoint", "lag", "snapshot", "age", "owed"
            )
            for p in found.partitions:
                table.add_row(
                    f"{p.partition}/{p.partitions}",
                    p.owner or "[red]none[/red]",
                    "" if p.lease_left_s is None else f"{p.lease_left_s:.1f} s",
                    f"{p.checkpoint:,}",
                    "?" if p.lag is None else f"{p.lag:,}",
                    "" if p.snapshot_seq is None else f"{p.snapshot_seq:,}",
                    "" if p.snapshot_age_s is None else f"{p.snapshot_age_s:.0f} s",
                    f"{p.owed:,}",
                )
            console.print(table)
            console.print("ready" if found.ready else f"[red]not ready:[/red] {found.reason}")
        if not found.ready:
            raise typer.Exit(3)
