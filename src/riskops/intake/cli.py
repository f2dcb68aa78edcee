"""Commands of the ``intake`` package: ``riskops email import`` and ``riskops smtp``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

email_app = typer.Typer(help="Inbound email: import .eml and mbox files.", no_args_is_help=True)


def _setup() -> tuple[Any, Any]:
    from riskops.kernel.config import get_settings
    from riskops.kernel.db import open_database, session_factory

    settings = get_settings()
    return settings, session_factory(open_database())


def _own(settings: Any) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in settings.intake_mailboxes.split(",") if a.strip())


@email_app.command("import")
def import_email(
    paths: Annotated[list[Path], typer.Argument(exists=True, help=".eml files, directories, mbox")],
) -> None:
    """Import messages: link them to accounts and raise their alerts (idempotent)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from riskops.intake import tasks

    console = Console()
    settings, sessions = _setup()
    total = tasks.count_messages(paths)
    columns = (TextColumn("[bold]importing mail"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("mail", total=total)
        summary = tasks.import_messages(
            sessions,
            tasks.iter_messages(paths),
            max_bytes=settings.max_email_bytes,
            own_addresses=_own(settings),
            progress=lambda n: bar.advance(task, n),
        )
    console.print(
        f"imported {summary.imported:,}  already known {summary.known:,}  "
        f"unlinked → triage {summary.unlinked:,}  malformed {len(summary.malformed):,}  "
        f"failed {len(summary.failed):,}"
    )
    for where, reason in summary.malformed:
        console.print(f"[yellow]malformed[/] {where}: {reason}", markup=True, highlight=False)
    if summary.malformed:
        console.print("kept as dead letters; see them with: riskops dead-letters --source email")
    for where, reason in summary.failed:
        console.print(f"[red]failed[/] {where}: {reason}", markup=True, highlight=False)
    if summary.failed:
        console.print("not stored; run the import again")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(email_app, name="email")

    @app.command("smtp")
    def smtp(
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535)] = 2525,
    ) -> None:
        """Receive mail over SMTP until interrupted; each message is stored before 250."""
        import threading

        from riskops.intake.smtp import IntakeHandler, controller

        settings, sessions = _setup()
        handler = IntakeHandler(
            sessions,
            max_bytes=settings.max_email_bytes,
            own_addresses=_own(settings),
            reply_secret=settings.reply_secret,
        )
        server = controller(handler, host, port, data_size_limit=settings.max_email_bytes)
        server.start()
        typer.echo(f"riskops SMTP intake listening on {host}:{port} (Ctrl+C to stop)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
