"""Commands of the ``rules`` package: backtest, and list/validate/load rule versions.

Promotion is not here: a version goes to shadow, live or retired only through a request
that a second person approves (``riskops.authoring.cli`` adds ``rules promote``,
``rules approve``, ``rules reject`` and ``rules requests`` to this group, ADR 0040).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any

import typer

_FORMATS = "auto|ndjson|csv|parquet|amlworld"


def _sessions() -> Any:
    """Sessions on the configured database, its rule store seeded with the default pack."""
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.rules.service import seed_default_pack

    sessions = session_factory(open_database())
    with unit_of_work(sessions) as session:
        seed_default_pack(session)
    return sessions


def _fail(message: str) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[red]{message}[/red]")
    return typer.Exit(1)


def _rules_for_backtest(files: list[Path]) -> tuple[list[Any], str]:
    from sqlalchemy.exc import SQLAlchemyError

    from riskops.kernel.db import unit_of_work
    from riskops.rules.definition import load_default_pack, load_rule_files
    from riskops.rules.service import live_rules

    if files:
        return load_rule_files(files), ", ".join(str(f) for f in files)
    try:
        with unit_of_work(_sessions()) as session:
            stored = live_rules(session)
    except SQLAlchemyError as exc:  # never backtest some other set than the one asked for
        raise _fail(
            f"cannot read the live rules from the database ({type(exc).__name__}); "
            "pass rule files to backtest them"
        ) from exc
    if stored:
        return stored, "the live rules in the database"
    return load_default_pack(), "the default pack"


def rules_group(app: typer.Typer) -> typer.Typer:
    """The ``rules`` command group of ``app``, added on first use (so the packages above
    that add commands to it may register in any order)."""
    for group in app.registered_groups:
        if group.name == "rules" and group.typer_instance is not None:
            return group.typer_instance
    rules_app = typer.Typer(
        help="Rule versions: list, validate, load; promote with a second person's approval.",
        no_args_is_help=True,
    )
    app.add_typer(rules_app, name="rules")
    return rules_app


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    rules_app = rules_group(app)

    @app.command("backtest")
    def backtest_command(
        rules: Annotated[list[Path] | None, typer.Argument(help="YAML rule files")] = None,
        events: Annotated[Path, typer.Option("--events", exists=True, dir_okay=False)] = Path(),
        fmt: Annotated[str, typer.Option("--format", help=_FORMATS)] = "auto",
        lists: Annotated[Path | None, typer.Option("--lists", file_okay=False)] = None,
        out: Annotated[Path | None, typer.Option("--out", help="write HITS.csv here")] = None,
        engine: Annotated[str, typer.Option("--engine", help="duckdb|spark")] = "duckdb",
    ) -> None:
        """Run rules over an event file (default: the live set, else the default pack)."""
        from rich.console import Console
        from rich.table import Table

        from riskops.rules.backtest import backtest
        from riskops.rules.lists import ListStore, default_lists
        from riskops.rules.parse import RuleParseError

        if events == Path():
            raise _fail("--events FILE is required")
        if engine not in ("duckdb", "spark"):
            raise _fail(f"--engine must be duckdb or spark, not {engine!r}")
        if engine == "spark":
            from riskops.rules.spark import unavailable

            if (reason := unavailable()) is not None:
                raise _fail(f"--engine spark: {reason}")
        try:
            rule_set, origin = _rules_for_backtest(list(rules or []))
        except RuleParseError as exc:
            raise _fail(f"invalid rules:\n{exc}") from exc
        store = default_lists()
        if lists is not None:
            store = store.merged(ListStore.from_dir(lists))
        run = backtest
        if engine == "spark":
            from riskops.rules.spark import backtest_spark as run
        result = run(rule_set, events, None if fmt == "auto" else fmt, store, out)
        table = Table(title=f"Backtest of {len(rule_set)} rules ({origin})")
        for column in ("rule", "typology", "hits", "accounts"):
            table.add_column(column, justify="right" if column in ("hits", "accounts") else "left")
        for rule in rule_set:
            table.add_row(
                rule.id,
                rule.typology,
                f"{result.hits_per_rule.get(rule.id, 0):,}",
                f"{result.accounts_per_rule.get(rule.id, 0):,}",
            )
        console = Console()
        console.print(table)
        console.print(
            f"{result.total_events:,} events ({result.total_rows:,} rows, {result.rejected:,} "
            f"rejected), {result.hits:,} hits in {result.elapsed_s:.2f} s "
            f"({result.events_per_s:,.0f} events/s)" + (f"; hits in {out}" if out else "")
        )

    @rules_app.command("list")
    def list_command(rule_id: Annotated[str | None, typer.Argument()] = None) -> None:
        """List stored rule versions and their status."""
        from rich.console import Console
        from rich.table import Table

        from riskops.kernel.db import unit_of_work
        from riskops.rules.service import list_versions

        table = Table(title="Rule versions")
        for column in ("rule", "version", "status", "created", "by"):
            table.add_column(column)
        with unit_of_work(_sessions()) as session:
            for row in list_versions(session, rule_id):
                table.add_row(
                    row.rule_id,
                    str(row.version),
                    row.status,
                    row.created_at.isoformat(timespec="seconds"),
                    row.created_by,
                )
        Console().print(table)

    @rules_app.command("validate")
    def validate_command(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        lists: Annotated[Path | None, typer.Option("--lists")] = None,
    ) -> None:
        """Check a rule file: schema, names, types, and the lists it refers to."""
        from rich.console import Console

        from riskops.rules.definition import load_rule_files
        from riskops.rules.lists import ListStore, UnknownListError, default_lists
        from riskops.rules.parse import RuleParseError
        from riskops.rules.stream import StreamEvaluator

        try:
            rule_set = load_rule_files([file])
            store = default_lists()
            if lists is not None:
                store = store.merged(ListStore.from_dir(lists))
            store.strict = True
            StreamEvaluator(rule_set, store, include_drafts=True)
        except (RuleParseError, UnknownListError) as exc:
            raise _fail(f"{file}:\n{exc}") from exc
        Console().print(f"[green]{file}: {len(rule_set)} rules are valid[/green]")

    @rules_app.command("load")
    def load_command(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        by: Annotated[str | None, typer.Option("--by")] = None,
    ) -> None:
        """Save the rules of a file as draft versions (a new version only if changed)."""
        from rich.console import Console

        from riskops.kernel.db import unit_of_work
        from riskops.kernel.errors import ValidationFailed
        from riskops.rules.service import save_drafts

        try:
            with unit_of_work(_sessions()) as session:
                saved = save_drafts(
                    session, file.read_text(encoding="utf-8"), by or getpass.getuser()
                )
        except ValidationFailed as exc:
            raise _fail("\n".join(exc.details or [exc.message])) from exc
        console = Console()
        for item in saved:
            what = "new draft" if item.created else "unchanged"
            console.print(f"{item.rule_id} v{item.version}: {what}")
