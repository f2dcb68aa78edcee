"""Commands of the ``screening`` package: ``riskops screening ...``.

``screening_app`` is the command group; each command of the package is declared on it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from riskops.screening.matcher import Screener

screening_app = typer.Typer(
    help="Sanctions and PEP screening: load lists, screen names, review hits.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(screening_app, name="screening")


def _fail(message: str) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)


def _screener_from_database() -> Screener:
    """The current list versions' Screener, from the store (``service.current_screener``)."""
    from sqlalchemy.exc import SQLAlchemyError

    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.screening.service import current_screener

    try:
        with unit_of_work(session_factory(open_database())) as session:
            screener = current_screener(session)
    except SQLAlchemyError as error:
        raise _fail(
            f"cannot read the current list from the database ({type(error).__name__}); "
            "pass --list FILE..."
        ) from error
    if screener is None:
        raise _fail("no list is loaded: run `riskops screening load` or pass --list FILE...")
    return screener


@screening_app.command("batch")
def batch_command(
    queries: Annotated[
        Path, typer.Argument(help="CSV with a header id,name[,birth_date,country,kind]")
    ],
    out: Annotated[Path, typer.Option("--out", help="MATCHES.csv to write")],
    lists: Annotated[
        list[Path] | None,
        typer.Option("--list", help="list files (default: the current list in the database)"),
    ] = None,
    list_source: Annotated[
        str, typer.Option("--list-source", help="auto|ofac-sdn|ofac-xml|un-xml|ftm")
    ] = "auto",
    threshold: Annotated[
        float | None, typer.Option("--threshold", min=0.0, max=1.0, help="score cut-off")
    ] = None,
) -> None:
    """Screen each name of QUERIES.csv; write one row per list entry at or above the threshold."""
    from rich.console import Console
    from rich.progress import Progress

    from riskops.screening.batch import BatchInputError, count_rows, run_batch
    from riskops.screening.lists import ListFormatError, detect_source, load
    from riskops.screening.matcher import DEFAULT_THRESHOLD, Screener

    console = Console(stderr=True)
    if not queries.is_file():
        raise _fail(f"{queries}: no such file")
    try:
        if lists:
            source = detect_source(lists) if list_source == "auto" else list_source
            entries = load(source, lists)
            screener = Screener(entries, threshold if threshold is not None else DEFAULT_THRESHOLD)
            console.print(f"{len(entries)} entries from {source} ({', '.join(map(str, lists))})")
        else:
            screener = _screener_from_database()
            if threshold is not None:
                screener = Screener(screener.entries, threshold)
        rows = count_rows(queries)
        with Progress(console=console, transient=True, disable=rows < 1_000) as progress:
            task = progress.add_task("screening", total=rows)
            result = run_batch(screener, queries, out, lambda n: progress.advance(task, n))
    except (ListFormatError, BatchInputError) as error:
        raise _fail(error.message) from error
    console.print(
        f"{result.queries} names screened, {result.matched_queries} with a match, "
        f"{result.matches} rows written to {out}"
    )


# --- the store: list versions, rescreening, hits ---------------------------------------------

from typing import TYPE_CHECKING  # noqa: E402  (this section's own imports)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _sessions() -> sessionmaker[Session]:
    from riskops.kernel.db import open_database, session_factory

    return session_factory(open_database())


@screening_app.command("load")
def load_command(
    files: Annotated[list[Path], typer.Argument(help="the list release's files")],
    source: Annotated[
        str, typer.Option("--source", help="ofac-sdn|ofac-xml|un-xml|ftm (auto: by the files)")
    ] = "auto",
    name: Annotated[
        str | None, typer.Option("--name", help="the list's name (default: the source)")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="who loads it (default: you)")] = None,
    rescreen: Annotated[
        bool, typer.Option(help="rescreen every subject against the new version now")
    ] = True,
) -> None:
    """Store a list release as a new version and make it current (nothing new if these files
    were loaded before), then rescreen every subject: only new hits alert."""
    import getpass

    from rich.console import Console

    from riskops.auth.permissions import Principal
    from riskops.kernel.db import unit_of_work
    from riskops.kernel.errors import RiskopsError
    from riskops.screening import service, tasks
    from riskops.screening.lists import detect_source

    console = Console()
    for file in files:
        if not file.is_file():
            raise _fail(f"{file}: no such file")
    sessions = _sessions()
    loader = Principal.system(f"cli:{by or getpass.getuser()}")
    try:
        kind = detect_source(files) if source == "auto" else source
        with unit_of_work(sessions) as session:
            result = service.load_list(session, loader, kind, files, name=name)
    except RiskopsError as error:
        raise _fail(error.message) from error
    what = (
        "new version"
        if result.created
        else "made current again"
        if result.switched
        else "already current: nothing stored"
    )
    console.print(
        f"{result.list_name} v{result.version}: {result.entry_count:,} entries from {kind} ({what})"
    )
    if rescreen and result.changed:
        followed = tasks.follow(sessions)  # subjects of events the worker has not read yet
        progress = tasks.rescreen(sessions)
        console.print(
            f"rescreened {followed.screened + progress.screened:,} subjects: "
            f"{followed.hits + progress.hits:,} new hits"
        )


@screening_app.command("rescreen")
def rescreen_command() -> None:
    """Screen every subject not yet screened against the current list versions (what the
    worker does a few batches at a time); only new hits alert."""
    from rich.console import Console

    from riskops.screening import tasks

    sessions = _sessions()
    followed = tasks.follow(sessions)
    progress = tasks.rescreen(sessions)
    Console().print(
        f"{followed.events:,} new events followed, "
        f"{followed.screened + progress.screened:,} subjects screened: "
        f"{followed.hits + progress.hits:,} new hits"
    )


@screening_app.command("hits")
def hits_command(
    account: Annotated[str | None, typer.Option("--account", help="one account's hits")] = None,
    status: Annotated[
        str, typer.Option("--status", help="open|confirmed|not_a_match|all")
    ] = "open",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List screening hits, newest first: the review queue, or one account's (audited)."""
    import msgspec
    from rich.console import Console
    from rich.table import Table

    from riskops.auth.permissions import Principal
    from riskops.kernel.db import unit_of_work
    from riskops.screening import service
    from riskops.screening.models import HitStatus
    from riskops.screening.schemas import hit_out

    if status != "all" and status not in {s.value for s in HitStatus}:
        raise _fail(f"unknown status {status!r}: open, confirmed, not_a_match or all")
    wanted = None if status == "all" else HitStatus(status)
    sessions = _sessions()
    reader = Principal.system("cli")
    with unit_of_work(sessions) as session:
        if account is not None:
            rows = service.hits_for_account(session, reader, account, status=wanted, limit=limit)
        else:
            rows = service.review_queue(session, reader, status=wanted, limit=limit)
        out = [hit_out(h) for h in rows]
    if as_json:
        typer.echo(msgspec.json.encode(out).decode())
        return
    table = Table(title=f"screening hits ({status})")
    for column in ("id", "account", "name", "matched", "list", "entry", "score", "status"):
        table.add_column(column)
    for h in out:
        table.add_row(
            str(h.id),
            h.account_id,
            h.subject_name,
            h.matched_name,
            h.list_name,
            h.entry_id,
            f"{h.score:.2f}",
            h.status,
        )
    Console().print(table)
