"""Commands of the learn package: ``train``, ``models list|show|promote|rollback``,
``labels import``.

Every change goes through the registry's and the labels' service functions, as the named
operator running the command (``--by``, default the login name): the same door, the same
checks and the same audit trail as the console.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from riskops.kernel.bounds import MAX_DB_INT

T = TypeVar("T")


def _fail(message: str, details: Any = None) -> typer.Exit:
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True)
    console.print(Text(message, style="red"), highlight=False, soft_wrap=True)
    if isinstance(details, list):
        for item in details[:50]:
            if isinstance(item, dict):
                where = f"row {item['row']}: " if "row" in item else ""
                console.print(
                    f"  {where}{item.get('field', '')}: {item.get('reason', '')}",
                    highlight=False,
                    markup=False,
                )
        if len(details) > 50:
            console.print(f"  ... and {len(details) - 50} more")
    return typer.Exit(1)


@contextmanager
def _errors() -> Iterator[None]:
    """Known errors as a red message and exit status 1, never a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from riskops.kernel.errors import RiskopsError

    try:
        yield
    except RiskopsError as exc:
        raise _fail(exc.message, exc.details) from exc
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)[:2000]) from exc
    except SQLAlchemyError as exc:
        raise _fail(f"database error ({type(exc).__name__})") from exc


def _operator(by: str | None) -> Any:
    from riskops.auth.permissions import Principal

    return Principal.system(f"cli:{by or getpass.getuser()}")


def _in_transaction(work: Callable[[Any], T]) -> T:
    from riskops.kernel.db import open_database, session_factory, unit_of_work

    with unit_of_work(session_factory(open_database())) as session:
        return work(session)


_By = Annotated[str | None, typer.Option("--by", help="Operator name (default: login name).")]


def models_group(app: typer.Typer) -> typer.Typer:
    """The ``models`` command group of ``app``, added on first use: ``riskops.authoring``
    adds promotion (a request a second person approves, ADR 0040) to it."""
    for group in app.registered_groups:
        if group.name == "models" and group.typer_instance is not None:
            return group.typer_instance
    models_app = typer.Typer(
        help="Model versions: list, show; promote with a second person's approval.",
        no_args_is_help=True,
    )
    app.add_typer(models_app, name="models")
    return models_app


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``riskops`` command line."""
    app.command("train")(train_command)
    models_app = models_group(app)
    models_app.command("list")(list_command)
    models_app.command("show")(show_command)
    labels_app = typer.Typer(
        help="Labels: import outcomes decided outside riskops.", no_args_is_help=True
    )
    labels_app.command("import")(import_command)
    app.add_typer(labels_app, name="labels")


def train_command(
    events: Annotated[Path | None, typer.Option(help="A transaction file to train on.")] = None,
    format: Annotated[str, typer.Option("--format", help="Format of --events: amlworld.")] = (
        "amlworld"
    ),
    sim: Annotated[
        Path | None, typer.Option(help="A simulator output directory (events and labels).")
    ] = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="The stored events with the labels table.")
    ] = False,
    unlabelled_negative: Annotated[
        bool, typer.Option(help="--stored: count unlabelled events as good (else left out).")
    ] = False,
    model_id: Annotated[str, typer.Option("--model", help="Model id.")] = "aml",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same model.")] = 7,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Threads.")] = 2,
    rounds: Annotated[int, typer.Option(min=1, max=5000, help="Most boosting rounds.")] = 400,
    note: Annotated[str, typer.Option(help="A note stored with the version.")] = "",
    engine: Annotated[
        str, typer.Option("--engine", help="Feature engine: duckdb, or spark (local PySpark).")
    ] = "duckdb",
    stages: Annotated[
        str,
        typer.Option(
            "--stages",
            help="1: the features; 2: also the counterparties' own scores from a first"
            " stage; auto: the better of the two on the validation days.",
        ),
    ] = "auto",
    by: _By = None,
) -> None:
    """Train a model from labels; the new version lands in the registry as a draft."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from riskops.learn import registry, training

    chosen = [events is not None, sim is not None, stored]
    if sum(chosen) != 1:
        raise _fail("give exactly one of --events FILE, --sim DIR, --stored")
    if events is not None and format != "amlworld":
        raise _fail(f"--format {format}: only amlworld files carry labels")
    if stages not in ("auto", "1", "2"):
        raise _fail(f"--stages {stages}: expected auto, 1 or 2")
    from riskops.learn.spark import check_engine

    if (reason := check_engine(engine)) is not None:
        raise _fail(reason)
    console = Console()
    operator = _operator(by)
    with _errors():
        registry.check_model_id(model_id)
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            stage = progress.add_task("starting", total=None)

            def say(text: str) -> None:
                progress.update(stage, description=text)

            if events is not None:
                data = training.from_amlworld(events, threads, say, engine=engine)
            elif sim is not None:
                data = training.from_sim(sim, threads, say, engine=engine)
            else:
                data = _in_transaction(
                    lambda s: training.from_store(
                        s, threads, unlabelled_negative=unlabelled_negative, say=say, engine=engine
                    )
                )
            known = data.y if data.known is None else data.y[data.known]
            say(f"{len(known):,} labelled transactions ({int(known.sum()):,} positive)")
            boosting = progress.add_task("boosting", total=rounds)

            def tick(done: int, total: int) -> None:
                progress.update(boosting, completed=done, total=total)

            fitted = training.fit(
                data,
                seed=seed,
                threads=threads,
                rounds=rounds,
                tick=tick,
                say=say,
                stages=None if stages == "auto" else int(stages),
            )
            progress.update(
                boosting,
                completed=fitted.artifact.best_iteration,
                total=fitted.artifact.best_iteration,
            )
            say("done")
        trained = fitted.trained(note)
        version = _in_transaction(lambda s: registry.register(s, operator, model_id, trained))
    test, valid = fitted.metrics["test"], fitted.metrics["validation"]
    console.print(
        f"[green]{model_id} version {version.version}[/green] stored as a draft "
        f"(features {data.seconds:.1f} s, training {fitted.seconds:.1f} s)"
    )
    console.print(
        f"  span {fitted.span_first:%Y-%m-%d} .. {fitted.span_last:%Y-%m-%d}; "
        f"threshold {fitted.artifact.threshold:.4f}; "
        + (
            "two stages (the counterparties' own scores)"
            if fitted.metrics["stages"] == 2
            else "one stage"
        )
    )
    for name, got in (("validation", valid), ("test", test)):
        console.print(
            f"  {name:10} precision {got['precision']:.3f}  recall {got['recall']:.3f}"
            f"  F1 {got['f1']:.3f}  ({got['positives']:.0f} positive)"
        )


def list_command(
    model_id: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    page: Annotated[int, typer.Option(min=1, help="Page (50 versions each).")] = 1,
) -> None:
    """List model versions, newest first."""
    from rich.console import Console
    from rich.table import Table

    from riskops.learn import registry

    with _errors():
        rows, total = _in_transaction(
            lambda s: (
                registry.list_models(s, model_id, limit=50, offset=(page - 1) * 50),
                registry.count_models(s, model_id),
            )
        )
    table = Table("model", "version", "status", "trained", "by", "span", "test F1", "threshold")
    for v in rows:
        f1 = v.metrics.get("test", {}).get("f1") if isinstance(v.metrics, dict) else None
        table.add_row(
            v.model_id,
            str(v.version),
            v.status,
            f"{v.trained_at:%Y-%m-%d %H:%M}",
            v.trained_by,
            f"{v.span_first:%Y-%m-%d}..{v.span_last:%Y-%m-%d}",
            "-" if f1 is None else f"{f1:.3f}",
            f"{v.threshold:.4f}",
        )
    console = Console()
    console.print(table)
    console.print(f"page {page} of {max(1, -(-total // 50))} ({total} versions)")


def show_command(
    model_id: str, version: Annotated[int, typer.Argument(min=1, max=MAX_DB_INT)]
) -> None:
    """Show one version: metrics, span, and its history."""
    import json

    from rich.console import Console

    from riskops.learn import registry

    with _errors():
        shown, events = _in_transaction(
            lambda s: (
                registry.get_version(s, model_id, version),
                registry.history(s, model_id, version),
            )
        )
    console = Console()
    console.print(f"[bold]{shown.model_id} version {shown.version}[/bold]: {shown.status}")
    console.print(f"trained {shown.trained_at:%Y-%m-%d %H:%M} by {shown.trained_by}", markup=False)
    console.print(f"span {shown.span_first:%Y-%m-%d %H:%M} .. {shown.span_last:%Y-%m-%d %H:%M}")
    console.print(f"threshold {shown.threshold:.4f}")
    console.print(json.dumps(shown.metrics, indent=2), markup=False, highlight=False)
    for e in events:
        console.print(
            f"  {e.at:%Y-%m-%d %H:%M} {e.from_status or '-'} -> {e.to_status} by {e.by}: {e.why}",
            markup=False,
            highlight=False,
        )


def import_command(
    file: Annotated[
        Path,
        typer.Argument(help="CSV or NDJSON: event_id or account_id, label, decided_at[, note]."),
    ],
    by: _By = None,
) -> None:
    """Import labels decided outside riskops: every row, or none with the reasons."""
    from riskops.learn import labels

    operator = _operator(by)
    with _errors():
        written = _in_transaction(lambda s: labels.import_file(s, operator, file))
    typer.echo(
        f"{written.inserted} new, {written.updated} changed, {written.unchanged} unchanged labels"
    )
