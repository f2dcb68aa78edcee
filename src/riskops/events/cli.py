"""Commands of the ``events`` package: ingest a file, list dead letters, consume NATS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

_FORMATS = "auto|ndjson|csv|parquet|amlworld"


def _sessions(*, writer: bool = False, wait: bool = False) -> Any:
    """Sessions of the configured database; a ``writer`` of events in bulk (ingest, the
    NATS consumer) has PostgreSQL end its sessions left idle in a transaction. With
    ``wait``, a database that cannot be reached yet is tried again with backoff."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from riskops.kernel.db import end_idle_transactions, open_database, session_factory
    from riskops.kernel.logging import get_logger
    from riskops.kernel.retry import Backoff

    backoff = Backoff(initial=0.5, maximum=10.0)
    while True:
        try:
            engine = open_database()
            break
        except (OperationalError, InterfaceError) as exc:
            if not wait:
                raise
            delay = backoff.next_delay()
            get_logger(__name__).warning(
                "database.unreachable", error=type(exc).__name__, retry_in=round(delay, 2)
            )
            time.sleep(delay)
    if writer:
        end_idle_transactions(engine)
        engine.dispose()  # the migration's pooled connection was opened without the limit
    return session_factory(engine)


# `riskops dead-letters ...`: listed here; `replay` is the monitor's (riskops.monitor.cli),
# since the monitor decides a quarantined event again.
letters = typer.Typer(help="Refused input and quarantined events: list them, replay one.")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""

    @app.command("ingest")
    def ingest(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        fmt: Annotated[str, typer.Option("--format", help=_FORMATS)] = "auto",
        source_name: Annotated[str | None, typer.Option(help="defaults to the file name")] = None,
        workers: Annotated[
            int | None,
            typer.Option(
                min=0,
                help="processes validating NDJSON/Parquet chunks (default: one per CPU; "
                "0: validate in this process)",
            ),
        ] = None,
    ) -> None:
        """Ingest an event file (NDJSON, CSV, Parquet or AMLworld CSV) into the event log."""
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        from riskops.events import tasks
        from riskops.events.adapters import (
            FORMATS,
            UnknownFormat,
            UnreadableFile,
            detect_format,
            known_rows,
        )
        from riskops.kernel.errors import Busy

        if fmt != "auto" and fmt not in FORMATS:
            message = f"unknown format {fmt!r}; use {_FORMATS}"
            raise typer.BadParameter(message, param_hint="--format")
        console = Console()
        try:
            chosen = detect_format(file) if fmt == "auto" else fmt
        except UnknownFormat as exc:
            raise typer.BadParameter(str(exc), param_hint="FILE") from None
        except UnreadableFile as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        sessions = _sessions(writer=True)
        try:
            started = time.perf_counter()
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeRemainingColumn(),
            )
            try:  # known for Parquet (its footer); other formats show rows done so far
                total = known_rows(file, chosen)
            except UnreadableFile as exc:
                console.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(1) from None
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(f"ingesting {file.name} ({chosen})", total=total)
                try:
                    report = tasks.ingest_file(
                        file,
                        chosen,
                        source_name,
                        sessions,
                        progress=lambda n: bar.advance(task, n),
                        workers=workers,
                    )
                except UnreadableFile as exc:
                    done = int(bar.tasks[0].completed)
                    console.print(f"[red]error:[/red] {exc}")
                    console.print(
                        f"{done:,} rows before it were stored. Ingestion is idempotent: once the"
                        " file is whole, ingest it again and only the rest is added."
                    )
                    raise typer.Exit(1) from None
                except Busy as exc:  # another writer held the event log past the wait limit
                    done = int(bar.tasks[0].completed)
                    console.print(f"[red]error:[/red] {exc.message}")
                    console.print(
                        f"{done:,} rows were stored. Ingestion is idempotent: ingest the file"
                        " again and only the rest is added."
                    )
                    raise typer.Exit(1) from None
            seconds = time.perf_counter() - started
            rows = report.accepted + report.duplicates + report.rejected_count
            console.print(
                f"accepted {report.accepted:,}  duplicates {report.duplicates:,}  "
                f"rejected {report.rejected_count:,}  ({rows / max(seconds, 1e-9):,.0f} events/s, "
                f"{seconds:.1f} s)"
            )
            if report.rejected_count:
                console.print("see them with: riskops dead-letters")
        finally:  # its connections close now, whatever the outcome (tests run it in-process)
            sessions.kw["bind"].dispose()

    app.add_typer(letters, name="dead-letters")

    @letters.callback(invoke_without_command=True)
    def dead_letters(
        ctx: typer.Context,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
        offset: Annotated[int, typer.Option(min=0)] = 0,
        source: Annotated[
            str | None,
            typer.Option(help="http|file|nats|api|email|sms|monitor (monitor: quarantined)"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
    ) -> None:
        """List refused input and the events the monitor quarantined, newest first."""
        if ctx.invoked_subcommand is not None:
            return
        import msgspec
        from rich.console import Console
        from rich.table import Table

        from riskops.events import repository, service
        from riskops.kernel.db import unit_of_work

        with unit_of_work(_sessions()) as session:
            items, total = repository.list_dead_letters(
                session, limit=limit, offset=offset, source=source
            )
            views = service.with_replayed(session, [service.dead_letter_view(d) for d in items])
        if as_json:
            for view in views:
                typer.echo(msgspec.json.encode(view).decode())
            return
        table = Table(title=f"dead letters ({total:,} in all)")
        for name in ("id", "when", "source", "row", "event id", "reason", "replayed"):
            table.add_column(name)
        for v in views:
            row = "" if v["source_row"] is None else str(v["source_row"])
            where = f"{v['source']} {v['source_name'] or ''}".strip()
            table.add_row(
                str(v["id"]),
                v["received_at"][:19],
                where,
                row,
                v["event_id"] or "",
                v["reason"][:120],
                "yes" if v["replayed"] else "",
            )
        Console().print(table)

    @app.command("consume-nats")
    def consume_nats(
        url: Annotated[str | None, typer.Option(help="NATS server URL")] = None,
        stream: Annotated[str | None, typer.Option()] = None,
        subject: Annotated[str | None, typer.Option(help="SUBJECT.<partition> is read")] = None,
        durable: Annotated[str, typer.Option(help="durable consumer name")] = "riskops-ingest",
        max_messages: Annotated[int | None, typer.Option("--max", help="stop after N")] = None,
        batch: Annotated[
            int, typer.Option(min=1, help="messages fetched and stored per transaction")
        ] = 500,
    ) -> None:
        """Ingest events from NATS JetStream until interrupted (or --max messages)."""
        import asyncio

        from riskops.events.nats import consume
        from riskops.kernel.config import get_settings

        settings = get_settings()
        stats = asyncio.run(
            consume(
                url or settings.nats_url,
                stream or settings.nats_stream,
                subject or settings.nats_subject,
                durable,
                _sessions(writer=True, wait=True),
                batch=batch,
                max_messages=max_messages,
                max_event_bytes=settings.max_event_bytes,
            )
        )
        typer.echo(
            f"messages {stats.messages:,}  accepted {stats.accepted:,}  "
            f"duplicates {stats.duplicates:,}  rejected {stats.rejected:,}"
        )
