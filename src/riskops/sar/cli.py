"""Commands of the ``sar`` package: ``riskops sar list | export | purge``.

The commands act as ``system:cli:<user>`` (the operator at the machine); what they change
is audited under that name.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from riskops.sar.models import ExportFormat, SarStatus

sar_app = typer.Typer(
    help="SAR / STR: list reports, export them in goAML or FinCEN XML, purge expired ones.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(sar_app, name="sar")


def _fail(message: str, reasons: list[dict[str, str]] | None = None) -> typer.Exit:
    typer.echo(message, err=True)
    for reason in reasons or ():
        typer.echo(f"  {reason.get('field', '$')}: {reason.get('reason', '')}", err=True)
    return typer.Exit(1)


@sar_app.command("list")
def list_command(
    status: Annotated[SarStatus | None, typer.Option(help="only reports in this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Reports, newest first: id, case, status, typology, drafter, approver, filing date."""
    import msgspec

    from riskops.auth.permissions import Principal
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.sar import schemas, service

    reader = Principal.system(f"cli:{getpass.getuser()}")
    with unit_of_work(session_factory(open_database())) as session:
        rows, total = service.listing(session, reader, status=status, limit=limit)
        items = [schemas.summary(r) for r in rows]
    if as_json:
        typer.echo(msgspec.json.encode(items).decode())
        return
    typer.echo(
        f"{'id':>6}  {'case':<13} {'status':<18} {'typology':<20} {'drafted by':<16} "
        f"{'approved by':<16} filed"
    )
    for s in items:
        filed = s.filed_at.date().isoformat() if s.filed_at else "-"
        typer.echo(
            f"{s.id:>6}  case {s.case_id:<8} {s.status:<18} {s.typology or '-':<20} "
            f"{s.drafted_by:<16} {s.approved_by or '-':<16} {filed}"
        )
    typer.echo(f"{len(items)} of {total}")


@sar_app.command("export")
def export_command(
    sar_id: Annotated[int, typer.Argument(help="The report's id.", min=1)],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="goaml or fincen")],
    out: Annotated[Path, typer.Option("--out", help="the XML file to write")],
) -> None:
    """Export a report, validated against the format's schema, to OUT (and keep it for
    filing). Exits 1 with each schema error when it does not validate."""
    from riskops.auth.permissions import Principal
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.kernel.errors import RiskopsError, ValidationFailed
    from riskops.sar import service

    actor = Principal.system(f"cli:{getpass.getuser()}")
    try:
        with unit_of_work(session_factory(open_database())) as session:
            stored = service.export(session, actor, sar_id, fmt)
            content, digest = stored.content, stored.sha256
    except ValidationFailed as error:
        raise _fail(error.message, list(error.details or [])) from error
    except RiskopsError as error:
        raise _fail(error.message, list(error.details or [])) from error
    out.write_text(content, encoding="utf-8")
    typer.echo(f"{out}: valid {fmt.value}, sha256 {digest}")


@sar_app.command("purge")
def purge_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would go")] = False,
) -> None:
    """Delete the reports past their retention date, except those under legal hold."""
    from riskops.auth.permissions import Principal
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.sar import service

    actor = Principal.system(f"cli:{getpass.getuser()}")
    with unit_of_work(session_factory(open_database())) as session:
        done = service.purge(session, actor, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    typer.echo(f"{verb} {len(done.purged)}: {', '.join(map(str, done.purged)) or '-'}")
    typer.echo(
        f"kept under legal hold {len(done.kept_on_hold)}: "
        f"{', '.join(map(str, done.kept_on_hold)) or '-'}"
    )
