"""Backtests: a rule set over an event file, in DuckDB.

Parquet files stay inside DuckDB end to end (``flat_sql``), so millions of events never pass
through Python. Other formats go through the event adapters (validated; rejected rows are
skipped and counted) into an Arrow table of flat rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from riskops.events.flat import FLAT_SCHEMA, to_rows
from riskops.events.tabular import flat_sql
from riskops.kernel import duck
from riskops.rules.definition import Rule
from riskops.rules.lists import ListStore
from riskops.rules.sql import compile_rules

THREADS = 2  # the target machine has two cores
_BATCH = 100_000
CSV_COLUMNS = ("rule_id", "rule_version", "event_id", "account_id", "source_row", "row")


class BacktestResult(msgspec.Struct):
    """What a backtest found: hits and distinct accounts per rule, and how long it took."""

    hits_per_rule: dict[str, int]
    accounts_per_rule: dict[str, int]
    total_events: int
    total_rows: int
    rejected: int
    elapsed_s: float
    out: str | None = None

    @property
    def hits(self) -> int:
        return sum(self.hits_per_rule.values())

    @property
    def events_per_s(self) -> float:
        return self.total_events / self.elapsed_s if self.elapsed_s > 0 else 0.0


def is_parquet(path: Path, fmt: str | None) -> bool:
    return fmt == "parquet" or (fmt is None and path.suffix.lower() in (".parquet", ".pq"))


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    columns = pq.ParquetFile(path).schema_arrow.names
    source = str(path).replace("'", "''")
    # The file's row index is the event's source_row and, as the ingest order, its seq.
    row_number = "" if "source_row" in columns else ", file_row_number AS source_row"
    con.execute(
        f"CREATE TEMP VIEW ev AS SELECT * EXCLUDE (file_row_number){row_number} "
        f"FROM read_parquet('{source}', file_row_number = true)"
    )
    # A view: the rules' query reads (and keeps) only the flat columns it needs.
    con.execute(f"CREATE TEMP VIEW flat AS {flat_sql('ev', columns)}")
    return int(pq.ParquetFile(path).metadata.num_rows)


def adapted_flat(path: Path, fmt: str | None) -> tuple[pa.Table, int, int]:
    """The flat rows of an event file in a format other than Parquet, through the event
    adapters (validated; rejected rows are skipped): ``(rows, events, rejected)``."""
    from riskops.events.adapters import read_events
    from riskops.events.validation import Rejection

    batches: list[pa.Table] = []
    rows: list[dict[str, object]] = []
    events = rejected = 0
    for source_row, result in read_events(path, fmt):
        if isinstance(result, Rejection):
            rejected += 1
            continue
        events += 1
        rows.extend(to_rows(result, seq=source_row, source_row=source_row))
        if len(rows) >= _BATCH:
            batches.append(pa.Table.from_pylist(rows, schema=FLAT_SCHEMA))
            rows = []
    batches.append(pa.Table.from_pylist(rows, schema=FLAT_SCHEMA))
    return pa.concat_tables(batches), events, rejected


def summarise(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Rule],
    loaded: tuple[int, int, int],
    started: float,
    out: Path | str | None,
) -> BacktestResult:
    """The result of a backtest whose hits (``HIT_COLUMNS``) are the relation ``hits`` on
    ``con``; ``loaded`` is ``(events, flat rows, rejected)``. Writes the CSV to ``out``."""
    counts = con.execute(
        "SELECT rule_id, count(*), count(DISTINCT account_id) FROM hits GROUP BY rule_id"
    ).fetchall()
    if out is not None:
        target = str(out).replace("'", "''")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        cols = ", ".join(f'"{c}"' for c in CSV_COLUMNS)
        ordered = f'SELECT {cols} FROM hits ORDER BY ts_us, seq, "row", rule_id'
        con.execute(f"COPY ({ordered}) TO '{target}' (HEADER, DELIMITER ',')")
    by_rule = {r.id: 0 for r in rules}
    accounts = {r.id: 0 for r in rules}
    for rule_id, n, distinct in counts:
        by_rule[rule_id], accounts[rule_id] = int(n), int(distinct)
    total_events, total_rows, rejected = loaded
    return BacktestResult(
        by_rule,
        accounts,
        total_events,
        total_rows,
        rejected,
        time.perf_counter() - started,
        str(out) if out is not None else None,
    )


def backtest(
    rules: Sequence[Rule],
    events: Path | str,
    fmt: str | None = None,
    lists: ListStore | None = None,
    out: Path | str | None = None,
) -> BacktestResult:
    """Run ``rules`` (whatever their status) over an event file; write ``HITS.csv`` to
    ``out`` if given (columns ``CSV_COLUMNS``, in processing order)."""
    started = time.perf_counter()
    path = Path(events)
    con = duck.connect(THREADS)
    try:
        con.execute("SET enable_progress_bar = false")
        # Order is imposed where it matters (the CSV), so operators may run out of order.
        con.execute("SET preserve_insertion_order = false")
        rejected = 0
        if is_parquet(path, fmt):
            total_events = _load_parquet(con, path)
        else:
            table, total_events, rejected = adapted_flat(path, fmt)
            con.register("flat", table)
        con.execute(f"CREATE TEMP TABLE hits AS {compile_rules(rules, lists)}")
        total_rows = int(con.execute("SELECT count(*) FROM flat").fetchone()[0])  # type: ignore[index]
        return summarise(con, rules, (total_events, total_rows, rejected), started, out)
    finally:
        con.close()
