"""``riskops accounts show ID [--json]``: the account 360 on the command line, the same
answer as ``GET /v1/accounts/{id}`` (``investigation.service.account_360``), audited as a
view by ``cli:<user>``."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from riskops.investigation.schemas import Account360

accounts_app = typer.Typer(help="Accounts: the account 360.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(accounts_app, name="accounts")


@accounts_app.command("show")
def show(
    account: Annotated[str, typer.Argument(help="The account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Profile, rating with its reasons, restrictions, flows, holds, cases, alerts, linked
    accounts, screening hits and intel on the IPs, phones, emails and addresses ACCOUNT
    used. An account riskops does not know exits with status 1."""
    import msgspec

    from riskops.auth.permissions import Principal
    from riskops.investigation import service
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.kernel.errors import RiskopsError

    reader = Principal.system(f"cli:{getpass.getuser()}")
    try:
        with unit_of_work(session_factory(open_database())) as session:
            answer = service.account_360(session, reader, account)
    except RiskopsError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from error
    if as_json:
        typer.echo(msgspec.json.encode(answer).decode())
        return
    _print(answer)


def _print(a: Account360) -> None:
    """A plain-text reading of the 360, a few lines a section."""
    p = a.profile
    who = p.full_name or "(no name)"
    typer.echo(f"account {a.account_id}: {who}, {p.country or '?'}, KYC {p.kyc_result or '-'}")
    if a.rating is not None:
        typer.echo(f"rating {a.rating.band} ({a.rating.score})")
        for reason in a.rating.reasons:
            typer.echo(f"  {reason.points:+4d} {reason.code}: {reason.detail}")
    else:
        typer.echo("rating: not rated yet")
    typer.echo(f"restrictions: {', '.join(r.kind for r in a.restrictions) or 'none'}")
    d, w = a.deposits_30d, a.withdrawals_30d
    typer.echo(f"30 days: {d.count} deposits ${d.usd}, {w.count} withdrawals ${w.usd}")
    held = [h for h in a.holds if h.status == "held"]
    typer.echo(f"holds: {len(held)} held of {len(a.holds)} shown")
    case = a.open_case
    typer.echo(f"open case: #{case.id} {case.title}" if case else "open case: none")
    typer.echo(f"alerts: {len(a.alerts)} recent")
    if a.links is not None:
        typer.echo(f"linked accounts (1 hop): {a.links.linked}")
        for item in a.links.accounts:
            kinds = ", ".join(sorted({s.kind for s in item.shared}))
            standing = ", ".join(item.restrictions) or "unrestricted"
            typer.echo(f"  {item.account_id} via {kinds} ({standing})")
    if a.screening is not None:
        s = a.screening
        typer.echo(f"screening: {s.open} open, {s.confirmed} confirmed, {s.not_a_match} cleared")
    for found in a.intel:
        facts = {k: v for k, v in found.intel.items() if k not in ("links", "sources", "notes")}
        shown = ", ".join(f"{k}={v}" for k, v in facts.items() if v not in (None, [], ""))
        typer.echo(f"intel {found.used_as} {found.value}: {shown}")
