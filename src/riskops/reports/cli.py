"""``riskops reports rebuild | roll-up | spikes | digest``: the trend rollups and the
weekly digest (``riskops.reports``, ADR 0035)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

reports_app = typer.Typer(
    help="Trends for management: daily rollups, spikes, the weekly digest.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(reports_app, name="reports")


@reports_app.command("rebuild")
def rebuild_command() -> None:
    """Clear the daily rollups and build them again from all history (alerts, events,
    cases, holds); the incremental pass carries on from there."""
    from riskops.kernel.clock import utcnow
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.reports import rollups

    with unit_of_work(session_factory(open_database())) as session:
        done = rollups.rebuild(session, utcnow())
    typer.echo(
        f"rolled up {done.alerts:,} alert(s), {done.events:,} event(s), cases from {done.from_day}"
    )


@reports_app.command("roll-up")
def roll_up_command() -> None:
    """One incremental pass (what the worker schedules): roll up what changed since the
    last, then notify the spikes found."""
    from riskops.kernel.db import open_database, session_factory
    from riskops.reports.tasks import rollup_pass

    done = rollup_pass(session_factory(open_database()))
    typer.echo(
        f"rolled up {done['alerts']:,} alert(s), {done['events']:,} event(s); "
        f"{done['spikes']} new spike(s)"
    )


@reports_app.command("digest")
def digest_command(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W10")],
    out: Annotated[Path, typer.Option("--out", help="where to write the PDF")] = Path("digest.pdf"),
    send: Annotated[bool, typer.Option("--send", help="also email it to the managers")] = False,
) -> None:
    """Write the weekly digest of WEEK as a PDF (and, with --send, queue its email to each
    active manager)."""
    from riskops.kernel.clock import utcnow
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.kernel.errors import ValidationFailed
    from riskops.reports import digest

    try:
        monday = digest.parse_week(week)
    except ValidationFailed as exc:
        raise typer.BadParameter("an ISO week like 2026-W10", param_hint="--week") from exc
    with unit_of_work(session_factory(open_database())) as session:
        pdf = digest.to_pdf(digest.build(session, monday))
        sent = digest.send(session, monday, utcnow()) if send else 0
    out.write_bytes(pdf)
    typer.echo(
        f"wrote {out} ({len(pdf):,} bytes)" + (f"; queued for {sent} manager(s)" if send else "")
    )
