"""Commands of the ``screening`` package: ``riskops screening ...``.

``screening_app`` is the command group; each command of the package is declared on it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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


def _screener_from_database(threshold: float | None) -> object:
    """The current list version's Screener, from the store (``service.current_screener``)."""
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.screening import service

    current = getattr(service, "current_screener", None)
    if current is None:
        raise _fail("no list given: pass --list FILE... (and --list-source)")
    with unit_of_work(session_factory(open_database())) as session:
        screener: object = current(session)
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
            found = _screener_from_database(threshold)
            if not isinstance(found, Screener):
                raise _fail("the store returned no screener")
            screener = found
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
