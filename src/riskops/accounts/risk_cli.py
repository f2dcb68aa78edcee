"""Commands of the account rating: ``riskops rating ...``.

``recompute`` is what an operator runs after the country lists changed (a FATF plenary, the
deployment's own lists): every account with a profile, a page per transaction, only the
ratings that changed written (with their history, trigger ``lists``).
"""

from __future__ import annotations

from typing import Annotated

import typer

rating_app = typer.Typer(help="Account risk ratings: show one, recompute.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(rating_app, name="rating")


@rating_app.command("show")
def show_command(
    account_id: Annotated[str, typer.Argument(help="the account")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    history: Annotated[int, typer.Option("--history", min=0, max=500)] = 0,
) -> None:
    """The account's rating with its reasons (and its last ``--history`` changes)."""
    import msgspec
    from rich.console import Console

    from riskops.accounts import rating
    from riskops.accounts.risk_schemas import rating_change_out, rating_out
    from riskops.kernel.db import open_database, session_factory, unit_of_work

    with unit_of_work(session_factory(open_database())) as session:
        found = rating.current(session, account_id)
        changes = rating.history(session, account_id, limit=history) if history else []
    if found is None:
        Console(stderr=True).print(f"[red]account {account_id!r} has no rating[/red]")
        raise typer.Exit(1)
    if as_json:
        body = {
            **msgspec.to_builtins(rating_out(found)),
            "history": [msgspec.to_builtins(rating_change_out(c)) for c in changes],
        }
        typer.echo(msgspec.json.encode(body).decode())
        return
    console = Console()
    console.print(f"{account_id}: [bold]{found.band.value}[/bold] ({found.score}/100)")
    for reason in found.reasons:
        mark = " [red]prohibits[/red]" if reason.prohibits else ""
        console.print(
            f"  {reason.points:>3}  {reason.code}{mark}: {reason.detail}", highlight=False
        )
    for change in changes:
        before = change.previous_band.value if change.previous_band else "-"
        console.print(
            f"  {change.rating.computed_at:%Y-%m-%d %H:%M} {before} -> "
            f"{change.rating.band.value} ({change.rating.score}, {change.trigger})"
        )


@rating_app.command("recompute")
def recompute_command(
    accounts: Annotated[list[str] | None, typer.Argument(help="accounts (default: --all)")] = None,
    every: Annotated[bool, typer.Option("--all", help="every account with a profile")] = False,
    page: Annotated[int, typer.Option("--page", min=1, max=10_000)] = 1_000,
) -> None:
    """Recompute ratings now (after a list change): changed ones are written with history."""
    from riskops.accounts import rating
    from riskops.accounts import risk_repository as repo
    from riskops.kernel.db import open_database, session_factory, unit_of_work

    if not accounts and not every:
        raise typer.BadParameter("name accounts, or --all")
    sessions = session_factory(open_database())
    done = 0
    if accounts:
        with unit_of_work(sessions) as session:
            rating.recompute_many(session, accounts, trigger="lists", links=rating.graph_links)
        done = len(set(accounts))
    else:
        after = ""
        while True:
            with unit_of_work(sessions) as session:
                ids = repo.profile_ids_after(session, after, page)
                if not ids:
                    break
                rating.recompute_many(session, ids, trigger="lists", links=rating.graph_links)
            done += len(ids)
            after = ids[-1]
    typer.echo(f"{done} account(s) rated")
