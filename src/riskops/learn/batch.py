"""The batch feature engine: the catalogue over history on DuckDB, for training.

Every feature is a window function or a join bounded by the account's own rows, never a
scan of the future (ADR 0037). Rows are ordered by ``(ts_us, seq, row)`` (``ord``) and
numbered within their account (``pos``). For a window of width W:

- counts and sums are the running total up to ``pos`` minus the running total of rows at
  or before ``ts - W`` (a ``RANGE ... W PRECEDING`` frame); money is integer cents, so
  both are exact;
- a distinct count is the number of (account, direction, counterparty) whose latest row
  so far is inside the window. Each row is the latest of its pair from its own ``pos`` up
  to the next row of the pair, and inside the window until the first ``pos`` at or after
  ``ts + W``: it covers ``[pos, end)``, and the count at ``pos`` is the rows started
  minus the intervals ended (a group-by on ``end`` and a running sum). Linear, exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from riskops.events.amlworld import CURRENCIES, HEADER, N_COLUMNS, USD_PER_UNIT, open_text
from riskops.kernel import duck
from riskops.learn.features import (
    CYCLE_CAP,
    CYCLE_WINDOW,
    FEATURE_NAMES,
    MONEY_TYPES,
    PASS_WINDOW,
    PROBE_CAP,
    ROUND_CENTS,
    SIDE_NAMES,
    SUM_WINDOWS,
    US_PER_HOUR,
    WINDOWS,
)

KEY_COLUMNS = ("seq", "row", "event_id", "source_row", "ts_us", "account_id", "counterparty_id")


class MalformedFile(ValueError):
    """A transaction file that cannot be read; ``reasons`` name the rows and columns."""

    def __init__(self, path: Path, reasons: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(reasons))
        self.reasons = reasons


def _side_sql() -> str:
    """SELECT list of the per-account features of ``_f`` (joined with its ends ``_x``),
    in ``SIDE_NAMES`` order."""
    cols: list[str] = []
    for w, (suffix, _, _) in enumerate(WINDOWS):
        for d, name in ((0, "out"), (1, "in")):
            cols.append(f'(cum_{d} - old_{d}_{w})::DOUBLE AS "{name}_n_{suffix}"')
            cols.append(f'(cum_{d} - ended_{d}_{w})::DOUBLE AS "{name}_cp_{suffix}"')
    for w, (suffix, _, _) in enumerate(WINDOWS):
        if suffix in SUM_WINDOWS:
            for d, name in ((0, "out"), (1, "in")):
                cols.append(f'(cumc_{d} - oldc_{d}_{w})::DOUBLE / 100 AS "{name}_usd_{suffix}"')
    p = next(i for i, (_, width, _) in enumerate(WINDOWS) if width == PASS_WINDOW)
    cols.append(f"(cumc_0 - oldc_0_{p})::DOUBLE / (cumc_1 - oldc_1_{p} + 100)::DOUBLE AS pass_7d")
    for d, name in ((1, "since_in_h"), (0, "since_out_h")):
        cols.append(
            f"CASE WHEN last_{d} IS NULL THEN -1.0::DOUBLE "
            f"ELSE (ts_us - last_{d})::DOUBLE / {US_PER_HOUR} END AS {name}"
        )
    cols.append("n_all::DOUBLE AS n_all")
    c = next(i for i, (_, width, _) in enumerate(WINDOWS) if width == CYCLE_WINDOW)
    cols.append(f"least(cum_0 - ended_0_{c}, cum_1 - ended_1_{c})::DOUBLE AS gs_7d")
    cols.append("(cents * n_all)::DOUBLE / greatest(sum_cents, 1)::DOUBLE AS amt_ratio")
    return ",\n  ".join(cols)


def _window_sql() -> str:
    """Per window, the first ``pos`` at or after ``ts + W`` (where a row leaves the window)."""
    cols: list[str] = []
    for w, (_, width, _) in enumerate(WINDOWS):
        ahead = (
            f"PARTITION BY account_id ORDER BY ts_us "
            f"RANGE BETWEEN UNBOUNDED PRECEDING AND {width - 1} FOLLOWING"
        )
        cols.append(f"count(*) OVER ({ahead}) + 1 AS end_{w}")
    return ",\n  ".join(cols)


def _ends_sql() -> tuple[str, str, str]:
    """(rows of ``_f`` as interval ends, the sums per (account, end), the running sums):
    a row leaves a window's counts and sums at ``end_w`` and its pair's distinct count at
    the pair's next row or ``end_w``, whichever comes first."""
    union: list[str] = []
    sums: list[str] = []
    running: list[str] = []
    for w, (suffix, _, _) in enumerate(WINDOWS):
        union.append(f"SELECT account_id, end_{w} AS e, d, {w} AS w, 0 AS k, cents FROM _f")
        union.append(
            f"SELECT account_id, least(coalesce(next_pos, end_{w}), end_{w}) AS e, d, {w} AS w,"
            f" 1 AS k, 0 AS cents FROM _f"
        )
        for d in (0, 1):
            where = f"d = {d} AND w = {w}"
            sums.append(f"sum(CASE WHEN {where} AND k = 0 THEN 1 ELSE 0 END) AS n_{d}_{w}")
            sums.append(f"sum(CASE WHEN {where} AND k = 1 THEN 1 ELSE 0 END) AS k_{d}_{w}")
            running.append(f"sum(coalesce(x.n_{d}_{w}, 0)) OVER a AS old_{d}_{w}")
            running.append(f"sum(coalesce(x.k_{d}_{w}, 0)) OVER a AS ended_{d}_{w}")
            if suffix in SUM_WINDOWS:
                sums.append(f"sum(CASE WHEN {where} AND k = 0 THEN cents ELSE 0 END) AS c_{d}_{w}")
                running.append(f"sum(coalesce(x.c_{d}_{w}, 0)) OVER a AS oldc_{d}_{w}")
    return " UNION ALL ".join(union), ", ".join(sums), ", ".join(running)


class Step(NamedTuple):
    """One work table of the feature computation: a DuckDB ``SELECT`` that may read the
    input and the steps before it, and the work tables no longer needed once it exists."""

    name: str
    sql: str
    frees: tuple[str, ...] = ()


WORK_TABLES = ("_h", "_f", "_x", "_s", "_iv", "_ev", "_y", "_pai", "_pbo", "_pbi", "_y4", "_sg")
_TRANSFER = "(h.type = 'transfer.internal' AND h.counterparty_id IS NOT NULL)"


def plan(table: str) -> tuple[list[Step], str]:
    """The features of ``table`` (flat layout) as named steps and the final query, in
    DuckDB's SQL: the one definition both engines run (DuckDB here, Spark transpiled in
    ``learn.spark``). The final query gives ``KEY_COLUMNS`` and ``FEATURE_NAMES`` of every
    money transaction's row 0, in processing order."""
    money = ", ".join(f"'{t}'" for t in MONEY_TYPES)
    ends, counts, ended = _ends_sql()
    steps = [
        Step(
            "_h",
            f"""
SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY ord) AS pos FROM (
  SELECT row_number() OVER (ORDER BY ts_us, seq, "row") AS ord, seq, "row", event_id, type,
    source_row, ts_us, account_id, counterparty_id,
    CASE WHEN direction = 'out' THEN 0 ELSE 1 END AS d,
    coalesce(counterparty_id, address, '') AS key, usd_cents AS cents
  FROM {table}
  WHERE type IN ({money}) AND direction IN ('in', 'out')
    AND usd_cents IS NOT NULL AND account_id IS NOT NULL
)""",
        ),
        Step(
            "_f",
            f"""
SELECT ord, pos, account_id, ts_us, d, key, cents,
  count(*) OVER a AS n_all,
  sum(cents::HUGEINT) OVER a AS sum_cents,
  sum(1 - d) OVER a AS cum_0, sum(d) OVER a AS cum_1,
  sum(cents * (1 - d)) OVER a AS cumc_0, sum(cents * d) OVER a AS cumc_1,
  max(CASE WHEN d = 0 THEN ts_us END) OVER ap AS last_0,
  max(CASE WHEN d = 1 THEN ts_us END) OVER ap AS last_1,
  count(*) OVER (PARTITION BY account_id, d, key ORDER BY pos ROWS UNBOUNDED PRECEDING)
    AS pair_n,
  sum(1 - d) OVER (PARTITION BY account_id, key ORDER BY pos ROWS UNBOUNDED PRECEDING)
    AS key_0,
  sum(d) OVER (PARTITION BY account_id, key ORDER BY pos ROWS UNBOUNDED PRECEDING) AS key_1,
  lead(pos) OVER (PARTITION BY account_id, d, key ORDER BY pos) AS next_pos,
  {_window_sql()}
FROM _h
WINDOW a AS (PARTITION BY account_id ORDER BY pos ROWS UNBOUNDED PRECEDING),
  ap AS (PARTITION BY account_id ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
""",
        ),
        Step("_x", f"SELECT account_id, e, {counts} FROM ({ends}) GROUP BY account_id, e"),
        Step(
            "_s",
            f"""
SELECT ord, pair_n, CASE WHEN d = 0 THEN key_1 ELSE key_0 END AS recip,
  {_side_sql()}
FROM (
  SELECT f.*, {ended}
  FROM _f f LEFT JOIN _x x ON x.account_id = f.account_id AND x.e = f.pos
  WINDOW a AS (PARTITION BY f.account_id ORDER BY f.pos ROWS UNBOUNDED PRECEDING)
)""",
            frees=("_x",),
        ),
        *_cycle_steps(),
    ]
    own = ", ".join(f'o."{n}"::DOUBLE AS "own.{n}"' for n in SIDE_NAMES)
    other = ", ".join(f'coalesce(c."{n}", 0)::DOUBLE AS "cp.{n}"' for n in SIDE_NAMES)
    final = f"""
SELECT h.seq, h."row", h.event_id, h.source_row, h.ts_us, h.account_id, h.counterparty_id,
  h.cents::DOUBLE / 100 AS usd,
  CASE WHEN h.cents % {ROUND_CENTS} = 0 THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END AS round,
  (1 - h.d)::DOUBLE AS out,
  CASE WHEN {_TRANSFER} THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END AS has_cp,
  o.pair_n::DOUBLE AS pair_n, o.recip::DOUBLE AS recip,
  coalesce(y.cycles, 0)::DOUBLE AS cycle3_7d,
  coalesce(y4.cycles, 0)::DOUBLE AS cycle4_7d,
  coalesce(sg.found, 0)::DOUBLE AS sg_7d,
  {own}, {other}
FROM _h h
JOIN _s o ON o.ord = h.ord
LEFT JOIN _y y ON y.ord = h.ord
LEFT JOIN _y4 y4 ON y4.ord = h.ord
LEFT JOIN _sg sg ON sg.ord = h.ord
LEFT JOIN _h h1 ON {_TRANSFER} AND h1.seq = h.seq AND h1."row" = 1
  AND h1.event_id = h.event_id
LEFT JOIN _s c ON c.ord = h1.ord
WHERE h."row" = 0
ORDER BY h.ord"""
    return steps, final


COUNT_SQL = 'SELECT count(*) FROM _h WHERE "row" = 0'


def check_columns(names: list[str]) -> None:
    """The SQL and the catalogue must not drift apart: raise if the final query's columns
    are not ``KEY_COLUMNS`` then ``FEATURE_NAMES``."""
    if names != list(KEY_COLUMNS) + list(FEATURE_NAMES):
        raise RuntimeError("batch feature columns differ from FEATURE_NAMES")


def features(con: duckdb.DuckDBPyConnection, table: str) -> pa.Table:
    """The feature vector of every money transaction's row 0 in ``table`` (flat layout),
    in processing order, as of that transaction (the past and itself)."""
    reader, _ = feature_reader(con, table)
    try:
        return reader.read_all()
    finally:
        reader.close()
        drop_work(con)


def drop_work(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the work tables ``feature_reader`` leaves for its reader."""
    for name in reversed(WORK_TABLES):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def feature_reader(
    con: duckdb.DuckDBPyConnection, table: str, *, rows: int = 500_000, drop_source: bool = False
) -> tuple[pa.RecordBatchReader, int]:
    """``features`` as (a reader of record batches of at most ``rows``, the number of rows
    it will give): a 5M-row file never holds all its vectors twice. ``drop_source`` drops
    ``table`` once read, to free its memory. Close the reader, then call ``drop_work``."""
    steps, final = plan(table)
    for step in steps:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {step.name} AS {step.sql}")
        # Each work table is dropped as soon as nothing later reads it (memory at 5M rows).
        for name in step.frees + ((table,) if drop_source and step.name == "_h" else ()):
            con.execute(f"DROP TABLE {name}")
    count = con.execute(COUNT_SQL).fetchall()[0]
    reader = con.sql(final).to_arrow_reader(rows)
    check_columns(reader.schema.names)
    return reader, int(count[0]) if count else 0


def _cycle_steps() -> list[Step]:
    """The shapes a transfer A->B (A != B) closes, as of its row 1, each a work table of
    (ord, count): ``_y`` the cycles of three (accounts X that B paid and that paid A:
    ``learn.stream``'s ``_cycles``), ``_y4`` the cycles of four and ``_sg`` scatter-gather
    (``FeatureState._cycles4`` and ``_scatter_gather``).

    A party is in an account's window as of that account's own latest row: every row of a
    pair is its latest from its own ``ord`` to the next row of the pair or the window's end,
    and ``_iv`` holds those intervals in global order, so "X paid Y" at the transfer is one
    interval of (X, out, Y) alive at ``o1``. The work is bounded by the sides' party counts:
    a cycle of three is looked for from the side with at most ``CYCLE_CAP`` parties, the
    two-hop shapes only when both sides have at most ``PROBE_CAP`` (-1 beyond)."""
    w = next(i for i, (_, width, _) in enumerate(WINDOWS) if width == CYCLE_WINDOW)
    suffix = WINDOWS[w][0]
    intervals = f"""
SELECT f.account_id, f.d, f.key, f.ord AS s, f.ts_us,
  coalesce(h2.ord, 9223372036854775807) AS e
FROM _f f LEFT JOIN _h h2 ON h2.account_id = f.account_id
  AND h2.pos = least(coalesce(f.next_pos, f.end_{w}), f.end_{w})"""
    transfers = f"""
SELECT h.ord, h1.ord AS o1, h.ts_us, h.account_id AS a, h.counterparty_id AS b,
  s0."in_cp_{suffix}" AS na, s1."out_cp_{suffix}" AS nb, s1."in_cp_{suffix}" AS nbi
FROM _h h
JOIN _h h1 ON h1.seq = h.seq AND h1."row" = 1 AND h1.event_id = h.event_id
JOIN _s s0 ON s0.ord = h.ord
JOIN _s s1 ON s1.ord = h1.ord
WHERE h."row" = 0 AND {_TRANSFER} AND h.account_id <> h.counterparty_id"""

    def alive(alias: str, account: str, d: int) -> str:
        """Interval ``alias`` is a party of ``account``'s window one way at the transfer."""
        return (
            f"{alias}.account_id = {account} AND {alias}.d = {d}"
            f" AND {alias}.s <= ev.o1 AND {alias}.e > ev.o1"
        )

    def side(first: str, first_d: int, second: str, second_d: int, when: str) -> str:
        return f"""
SELECT ev.ord, count(y.key) AS cycles
FROM _ev ev
JOIN _iv x ON {alive("x", "ev." + first, first_d)} AND x.ts_us > ev.ts_us - {CYCLE_WINDOW}
LEFT JOIN _iv y ON {alive("y", "ev." + second, second_d)} AND y.key = x.key
WHERE {when}
GROUP BY ev.ord"""

    cycles = f"""
{side("a", 1, "b", 0, f"na <= nb AND na <= {CYCLE_CAP}")}
UNION ALL
{side("b", 0, "a", 1, f"nb < na AND nb <= {CYCLE_CAP}")}
UNION ALL
SELECT ord, -1 FROM _ev WHERE least(na, nb) > {CYCLE_CAP}"""

    # Each side's parties at the transfer, once: a hash join finds an account's intervals
    # and the range keeps the live ones, so joining two sides directly would scan one
    # side's whole history for every live party of the other.
    def parties(account: str, d: int, when: str) -> str:
        """The parties of one end, neither end itself, of the transfers ``when`` holds."""
        return f"""
SELECT ev.ord, ev.o1, x.key
FROM _ev ev JOIN _iv x ON {alive("x", "ev." + account, d)} AND x.key <> ev.a AND x.key <> ev.b
WHERE {when}"""

    def pair(account: str, key: str) -> str:
        """One string for (account, key) that no other pair has (the account's length
        first). The third account's interval is found by this one key, so no engine can
        join it to one side before the sides are paired (scanning a party's history)."""
        return f"length({account}) || ':' || {account} || {key}"

    small = f"na <= {PROBE_CAP}"
    # X (B paid it) and Y (it paid A), X != Y, and X paid Y.
    cycles4 = f"""
SELECT x.ord, count(*) AS cycles
FROM _pbo x
JOIN _pai y ON y.ord = x.ord AND y.key <> x.key
JOIN _iv z ON z.d = 0 AND {pair("z.account_id", "z.key")} = {pair("x.key", "y.key")}
  AND z.s <= x.o1 AND z.e > x.o1
GROUP BY x.ord
UNION ALL
SELECT ord, -1 FROM _ev WHERE nb > {PROBE_CAP} OR na > {PROBE_CAP}"""
    # X (it paid B) shares a payer S with A.
    scattered = f"""
SELECT x.ord, count(DISTINCT x.key) AS found
FROM _pbi x
JOIN _pai s ON s.ord = x.ord
JOIN _iv z ON z.d = 1 AND {pair("z.account_id", "z.key")} = {pair("x.key", "s.key")}
  AND z.s <= x.o1 AND z.e > x.o1
GROUP BY x.ord
UNION ALL
SELECT ord, -1 FROM _ev WHERE nbi > {PROBE_CAP} OR na > {PROBE_CAP}"""
    return [
        Step("_iv", intervals),
        Step("_ev", transfers),
        Step("_y", cycles),
        Step("_pai", parties("a", 1, small)),
        Step("_pbo", parties("b", 0, f"{small} AND nb <= {PROBE_CAP}")),
        Step("_pbi", parties("b", 1, f"{small} AND nbi <= {PROBE_CAP}")),
        Step("_y4", cycles4, frees=("_pbo",)),
        Step("_sg", scattered, frees=("_pai", "_pbi", "_ev", "_iv", "_f")),
    ]


def read_amlworld(con: duckdb.DuckDBPyConnection, path: Path, table: str = "flat") -> pa.Array:
    """Load an AMLworld ``*_Trans.csv`` (plain or .gz) into ``table`` with the flat columns
    the features read (one transfer = row 0 and row 1, as ``events.flat`` makes them);
    return the ``Is Laundering`` labels by data row. Raises ``MalformedFile``."""
    import pyarrow.csv as pacsv

    if not path.is_file():
        raise MalformedFile(path, ["no such file"])
    names = [
        "ts",
        "from_bank",
        "from_account",
        "to_bank",
        "to_account",
        "received",
        "received_currency",
        "paid",
        "paid_currency",
        "format",
        "laundering",
    ]
    compression = "gzip" if path.suffix == ".gz" else None
    try:
        header = next(open_text(path), "").strip()
        if header.replace(", ", ",") != HEADER:
            raise MalformedFile(path, [f"not the AMLworld header (expected {HEADER!r})"])
        with pa.input_stream(str(path), compression=compression) as stream:
            raw = pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(skip_rows=1, column_names=names),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string())
                ),
            )
    except MalformedFile:
        raise
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise MalformedFile(path, [f"cannot read as {N_COLUMNS}-column CSV: {reason}"]) from None
    if raw.num_rows == 0:
        raise MalformedFile(path, ["no data rows"])
    raw = raw.append_column("source_row", pa.array(range(raw.num_rows), pa.int64()))
    rates = pa.table(
        {
            "name": list(CURRENCIES),
            "code": list(CURRENCIES.values()),
            "rate": pa.array([USD_PER_UNIT[c] for c in CURRENCIES.values()], pa.decimal128(18, 6)),
        }
    )
    con.register("_raw", raw)
    con.register("_rates", rates)
    con.execute("""
CREATE OR REPLACE TEMP TABLE _parsed AS
SELECT source_row,
  epoch_us(try_strptime(ts, '%Y/%m/%d %H:%M')) AS ts_us,
  from_bank || '-' || from_account AS account_id,
  to_bank || '-' || to_account AS counterparty_id,
  r.code AS asset, TRY_CAST(paid AS DOUBLE) AS amount,
  CAST(round_even(TRY_CAST(paid AS DECIMAL(38, 8)) * r.rate, 2) * 100 AS BIGINT) AS usd_cents,
  format AS method, laundering, ts, paid, paid_currency,
  from_bank, from_account, to_bank, to_account
FROM _raw LEFT JOIN _rates r ON r.name = _raw.paid_currency""")
    problems = con.execute("""
SELECT source_row,
  CASE WHEN ts_us IS NULL THEN '$.Timestamp: not YYYY/MM/DD HH:MM: ' || coalesce(ts, 'empty')
       WHEN asset IS NULL THEN '$.Payment Currency: unknown currency '
            || coalesce(paid_currency, 'empty')
       WHEN usd_cents IS NULL OR amount < 0 THEN '$.Amount Paid: not a number: '
            || coalesce(paid, 'empty')
       WHEN coalesce(from_bank, '') = '' OR coalesce(from_account, '') = ''
            OR coalesce(to_bank, '') = '' OR coalesce(to_account, '') = ''
            THEN '$.Account: bank and account are required on both sides'
       WHEN laundering NOT IN ('0', '1') OR laundering IS NULL
            THEN '$.Is Laundering: not 0 or 1' END AS reason
FROM _parsed WHERE reason IS NOT NULL ORDER BY source_row LIMIT 5""").fetchall()
    if problems:
        raise MalformedFile(path, [f"data row {row}: {reason}" for row, reason in problems])
    con.execute(f"""
CREATE OR REPLACE TABLE {table} AS
SELECT source_row + 1 AS seq, r."row", 'row-' || source_row AS event_id,
  'transfer.internal' AS type,
  CASE WHEN r."row" = 0 THEN account_id ELSE counterparty_id END AS account_id,
  ts_us, source_row, CASE WHEN r."row" = 0 THEN 'out' ELSE 'in' END AS direction,
  CASE WHEN r."row" = 0 THEN counterparty_id ELSE account_id END AS counterparty_id,
  asset, amount, usd_cents, method, NULL::VARCHAR AS address
FROM _parsed CROSS JOIN (SELECT 0 AS "row" UNION ALL SELECT 1) r""")
    labels = con.sql(
        "SELECT laundering = '1' AS y FROM _parsed ORDER BY source_row"
    ).to_arrow_table()
    con.execute("DROP TABLE _parsed")
    con.unregister("_raw")
    con.unregister("_rates")
    return labels.column("y").combine_chunks()


def connect(threads: int = 2, memory_limit: str = "4GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with bounded threads and memory (``kernel.duck``), spilling
    beyond it, in any order where order is not asked for."""
    con = duck.connect(threads, memory_limit)
    con.execute("SET preserve_insertion_order = false")
    return con


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Flat rows (dicts) as an Arrow table in the flat schema, for ``features``."""
    from riskops.events.flat import FLAT_SCHEMA

    return pa.Table.from_pylist(
        [{c: r.get(c) for c in FLAT_SCHEMA.names} for r in rows], schema=FLAT_SCHEMA
    )
