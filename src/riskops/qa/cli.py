"""Commands of the ``qa`` package: ``riskops qa sample`` and ``riskops qa agreement``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import typer

qa_app = typer.Typer(
    help="Quality assurance: sample closed cases for a second review, measure agreement.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(qa_app, name="qa")


@qa_app.command("sample")
def sample_command() -> None:
    """Run a sampling pass: draw the cases closed since the last pass under the current plan
    into the QA queue (nothing without a plan)."""
    from riskops.kernel.db import open_database, session_factory
    from riskops.qa.tasks import run_pass

    totals = run_pass(session_factory(open_database()))
    typer.echo(f"read {totals['read']} closed case(s), sampled {totals['sampled']}")


@qa_app.command("agreement")
def agreement_command(
    by: Annotated[str, typer.Option("--by", help="analyst or rule")] = "analyst",
    since: Annotated[
        datetime | None, typer.Option("--since", help="start (default: 30 days before until)")
    ] = None,
    until: Annotated[datetime | None, typer.Option("--until", help="end (default: now)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Agreement of the second reviews per analyst or per rule: reviewed, agreed, rate and
    Cohen's kappa (with why it is not defined, when it is not)."""
    import msgspec
    from rich.console import Console
    from rich.table import Table

    from riskops.auth.permissions import Principal
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.qa import service
    from riskops.qa.schemas import agreement_out

    if by not in ("analyst", "rule"):
        Console(stderr=True).print(f"[red]--by is analyst or rule, not {by!r}[/red]")
        raise typer.Exit(1)
    grouping: Literal["analyst", "rule"] = "analyst" if by == "analyst" else "rule"
    start, end = service.period(since, until)
    with unit_of_work(session_factory(open_database())) as session:
        rows = service.agreement(session, Principal.system("cli"), start, end, by=grouping)
        out = [agreement_out(r) for r in rows]
    if as_json:
        typer.echo(msgspec.json.encode(out).decode())
        return
    table = Table(title=f"QA agreement by {by}, {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    for column in (by, "reviewed", "agreed", "rate", "kappa"):
        table.add_column(column)
    for r in out:
        rate = "—" if r.agreement_rate is None else f"{r.agreement_rate:.0%}"
        kappa = f"{r.kappa:.2f}" if r.kappa is not None else f"— ({r.kappa_undefined})"
        table.add_row(r.key, str(r.reviewed), str(r.agreed), rate, kappa)
    Console().print(table)
