"""``riskops links ACCOUNT [--hops N] [--json]``: the accounts linked to one, each with the
values that link it; ``riskops who-else KIND VALUE [--json]``: the accounts that used a
value."""

from __future__ import annotations

import getpass

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""

    @app.command("links")
    def links_command(
        account: str = typer.Argument(..., help="The account id."),
        hops: int = typer.Option(1, "--hops", min=1, max=2, help="1 or 2 links away."),
        limit: int = typer.Option(100, "--limit", min=1, max=500, help="At most this many."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """The accounts linked to ACCOUNT (shared device, phone, email, IP, card, address,
        transfers, referrals), each with the values that link it and since when; values
        too many accounts share (hubs) are listed apart, not followed."""
        import msgspec

        from riskops.auth.permissions import Principal
        from riskops.kernel.db import open_database, session_factory, unit_of_work
        from riskops.links import service

        reader = Principal.system(f"cli:{getpass.getuser()}")
        with unit_of_work(session_factory(open_database())) as session:
            answer = service.linked(session, reader, account, hops=hops, limit=limit)
        if as_json:
            typer.echo(msgspec.json.encode(answer).decode())
            return
        _print_linked(answer)

    @app.command("who-else")
    def who_else_command(
        kind: str = typer.Argument(..., help="phone, email, ip, ip_net, device, card, ..."),
        value: str = typer.Argument(..., help="The value, as typed (it is normalised)."),
        limit: int = typer.Option(50, "--limit", min=1, max=200),
        cursor: str | None = typer.Option(None, "--after", help="The previous page's last."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """The accounts that used a value, with when each first and last used it."""
        import msgspec

        from riskops.auth.permissions import Principal
        from riskops.kernel.db import open_database, session_factory, unit_of_work
        from riskops.kernel.errors import ValidationFailed
        from riskops.links import service

        reader = Principal.system(f"cli:{getpass.getuser()}")
        try:
            with unit_of_work(session_factory(open_database())) as session:
                answer = service.who_else(session, reader, kind, value, limit=limit, cursor=cursor)
        except ValidationFailed as exc:
            raise typer.BadParameter(str(exc)) from exc
        if as_json:
            typer.echo(msgspec.json.encode(answer).decode())
            return
        hub = f" — a hub ({answer.accounts} accounts), never followed" if answer.hub else ""
        typer.echo(f"{answer.kind} {answer.value}: {answer.accounts} accounts{hub}")
        for use in answer.items:
            typer.echo(f"  {use.account_id}  {use.first_seen:%Y-%m-%d} – {use.last_seen:%Y-%m-%d}")
        if answer.next_cursor:
            typer.echo(f"  more: --after {answer.next_cursor}")


def _print_linked(answer: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from riskops.links.schemas import Linked

    assert isinstance(answer, Linked)
    console = Console()
    title = f"linked to {answer.account_id} ({answer.hops} hop{'s' if answer.hops > 1 else ''})"
    if answer.cluster_id:
        title += f", cluster {answer.cluster_id}"
    table = Table(title=title)
    for column in ("account", "hop", "via", "shared (kind value since)", "cluster"):
        table.add_column(column)
    for item in answer.items:
        shared = "\n".join(f"{s.kind} {s.value} {s.first_shared:%Y-%m-%d}" for s in item.shared)
        table.add_row(item.account_id, str(item.hop), item.via or "", shared, item.cluster_id or "")
    console.print(table)
    if not answer.items:
        console.print("no linked accounts")
    if answer.truncated:
        console.print("[yellow]more accounts are linked than shown (--limit)[/yellow]")
    for hub in answer.hubs:
        console.print(f"hub, not followed: {hub.kind} {hub.value} ({hub.accounts} accounts)")
