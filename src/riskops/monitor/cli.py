"""The monitor's commands: ``riskops dead-letters replay`` (the monitor decides a
quarantined event again, or validates refused input again and ingests it)."""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.events.cli import letters


def register(app: typer.Typer) -> None:
    """Add the monitor's commands to the dead-letters group (``riskops.events.cli``'s)."""

    @letters.command("replay")
    def replay(dead_letter_id: Annotated[int, typer.Argument(min=1)]) -> None:
        """Replay a dead letter after a fix: the monitor decides a quarantined event now,
        or a refused input is validated again and ingested if it is valid now. Prints what
        it did (JSON); exit code 1 if it still fails, and the dead letter stays."""
        import msgspec

        from riskops.auth.permissions import Principal
        from riskops.kernel.config import get_settings
        from riskops.kernel.db import open_database
        from riskops.kernel.errors import RiskopsError
        from riskops.monitor.runtime import MonitorRuntime

        settings = get_settings()
        engine = open_database(settings.sqlalchemy_url)
        try:
            runtime = MonitorRuntime.create(settings, engine)
            done = runtime.replay(
                dead_letter_id, Principal.system("cli"), max_event_bytes=settings.max_event_bytes
            )
        except RiskopsError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        finally:
            engine.dispose()
        typer.echo(msgspec.json.encode(done).decode())
