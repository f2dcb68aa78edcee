"""Backtests on Spark: the rule set's DuckDB query, transpiled to Spark SQL (ADR 0043).

There is one compiler (``sql.compile_rules``) and one flat layout (``events.tabular.flat_sql``);
sqlglot transpiles both from DuckDB's dialect to Spark's and ``to_spark`` rewrites what
Spark runs differently or not at all:

- ``count(DISTINCT x) OVER (...)``: Spark has no distinct window aggregate, so it becomes
  ``size(collect_set(x) OVER (...))`` (a set ignores nulls, as ``count(DISTINCT)`` does), cast
  back to ``BIGINT``;
- ``epoch_us(ts)``: ``unix_micros(ts)``;
- ``HUGEINT`` (a 128-bit integer, e.g. a sum of cents that must not overflow): Spark has no
  128-bit integer, so ``DECIMAL(38, 0)``, exact over the same range less a few digits;
- ``WITH ... AS MATERIALIZED``: Spark inlines every CTE reference and has no such hint, so
  each CTE runs as a temp view of its own, checkpointed where DuckDB materialises it
  (``steps``, ``run``).

Everything else carries over as it is and was checked, not assumed: ``FILTER (WHERE ...)``
on a window aggregate, ``RANGE`` frames on the integer clock (offsets up to 90 days in
nanoseconds), ``last_value(... IGNORE NULLS)``, ``SEMI JOIN``, ``IN`` lists (a named list
is compiled to literals), three-valued logic and ``COALESCE(cond, FALSE)``, and integer sums
cast to ``DOUBLE`` in the same order (the parity tests hold all of it).

Spark runs locally (``local[2]``, no UI, a temporary warehouse, quiet logs) and never
downloads anything: pyspark is the optional extra ``riskops[spark]`` and needs Java 17.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from riskops.events.tabular import flat_sql
from riskops.kernel import duck
from riskops.rules.backtest import BacktestResult, adapted_flat, is_parquet, summarise
from riskops.rules.definition import Rule
from riskops.rules.lists import ListStore
from riskops.rules.sql import compile_features, compile_rules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

INSTALL_HINT = "pip install 'riskops[spark]'"
SHUFFLE_PARTITIONS = 4  # two cores: a few partitions, not Spark's default 200
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing: the message says which and how to get it."""


def unavailable() -> str | None:
    """Why Spark cannot run here (None if it can): pyspark not installed, or no Java."""
    if importlib.util.find_spec("pyspark") is None:
        return f"pyspark is not installed (it is an optional extra: {INSTALL_HINT})"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and (Path(java_home) / "bin" / "java").exists()) and not shutil.which("java"):
        return "Spark needs Java 17 or later: no java on PATH and JAVA_HOME is not set"
    return None


@contextmanager
def session(*, memory: str = "2g") -> Iterator[SparkSession]:
    """A local SparkSession on two cores, stopped on exit; raises ``SparkUnavailable``."""
    reason = unavailable()
    if reason is not None:
        raise SparkUnavailable(reason)
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="riskops-spark-") as tmp:
        log4j = Path(tmp) / "log4j2.properties"
        log4j.write_text(_LOG4J, encoding="utf-8")
        quiet = f"-Dlog4j2.configurationFile=file:{log4j}"
        builder = (
            SparkSession.builder.master("local[2]")
            .appName("riskops-backtest")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", memory)
            .config("spark.driver.extraJavaOptions", quiet)
            .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
            .config("spark.sql.warehouse.dir", str(Path(tmp) / "warehouse"))
            .config("spark.local.dir", str(Path(tmp) / "local"))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.ansi.enabled", "true")  # overflow is an error, as in DuckDB
        )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        try:
            yield spark
        finally:
            spark.stop()


# --- DuckDB SQL to Spark SQL --------------------------------------------------------------


def to_spark(sql: str) -> str:
    """A DuckDB query of the rules' compiler (or ``flat_sql``) as Spark SQL."""
    return _spark(sqlglot.parse_one(sql, read="duckdb"))


def _spark(tree: exp.Expr) -> str:
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    for fn in list(tree.find_all(exp.Anonymous)):
        if fn.name.lower() == "epoch_us":
            fn.replace(exp.Anonymous(this="unix_micros", expressions=fn.expressions))
    for window in list(tree.find_all(exp.Window)):
        _distinct_window(window)
    for kind in list(tree.find_all(exp.DataType)):
        if kind.this == exp.DataType.Type.INT128:
            kind.replace(exp.DataType.build("DECIMAL(38, 0)"))
    return tree.sql(dialect="spark")


def _distinct_window(window: exp.Window) -> None:
    """``count(DISTINCT x) [FILTER (WHERE c)] OVER w`` to
    ``CAST(size(collect_set(x) [FILTER (WHERE c)] OVER w) AS BIGINT)``."""
    agg = window.this
    holder = agg if isinstance(agg, exp.Filter) else window
    count = holder.this
    if not (isinstance(count, exp.Count) and isinstance(count.this, exp.Distinct)):
        return
    values = count.this.expressions
    if len(values) != 1:  # the compiler counts one column; more would need a struct
        raise ValueError(f"count(DISTINCT) of {len(values)} columns in a window")
    holder.set("this", exp.Anonymous(this="collect_set", expressions=[values[0].copy()]))
    size = exp.Anonymous(this="size", expressions=[window.copy()])
    window.replace(exp.Cast(this=size, to=exp.DataType.build("BIGINT")))


# --- the flat rows in Spark ---------------------------------------------------------------


def load_flat(spark: SparkSession, path: Path, fmt: str | None, tmp: Path) -> tuple[int, int]:
    """The temp view ``flat`` over an event file: a Parquet file is read by Spark and turned
    into flat rows by ``flat_sql`` (transpiled); other formats go through the event
    adapters, as in DuckDB, and are handed over as flat Parquet. ``(events, rejected)``."""
    if is_parquet(path, fmt):
        columns = pq.ParquetFile(path).schema_arrow.names
        frame = spark.read.parquet(str(path))
        if "source_row" not in columns:
            # The file's row index is the event's source_row and its seq, as in DuckDB.
            frame = frame.selectExpr("*", "_metadata.row_index AS source_row")
        frame.createOrReplaceTempView("ev")
        spark.sql(to_spark(flat_sql("ev", columns))).createOrReplaceTempView("flat")
        return int(pq.ParquetFile(path).metadata.num_rows), 0
    table, events, rejected = adapted_flat(path, fmt)
    flat_path(spark, table, tmp)
    return events, rejected


def flat_path(spark: SparkSession, table: pa.Table, tmp: Path) -> None:
    """Flat rows (the ``FLAT_SCHEMA`` layout) as the temp view ``flat``, through Parquet."""
    target = tmp / "flat.parquet"
    pq.write_table(table, target)
    spark.read.parquet(str(target)).createOrReplaceTempView("flat")


class Step(NamedTuple):
    """One CTE of a compiled query, run in Spark as a temp view (cached if DuckDB's query
    materialised it)."""

    name: str
    sql: str
    cached: bool


def steps(sql: str) -> tuple[list[Step], str]:
    """A compiled DuckDB query (``WITH ... SELECT``) as Spark steps and the final query.

    Catalyst inlines every reference to a CTE: the compiler's query reads ``base`` once per
    feature group and each group joins the clock ranks, so one statement planned (and ran)
    each of them many times over. One temp view per CTE, cached where DuckDB materialises
    it, keeps Spark's work what DuckDB's is."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    with_ = tree.args.get("with_") or tree.args.get("with")
    out: list[Step] = []
    if isinstance(with_, exp.With):
        for cte in with_.expressions:
            out.append(Step(cte.alias, _spark(cte.this), bool(cte.args.get("materialized"))))
        tree.set("with_" if "with_" in tree.args else "with", None)
    return out, _spark(tree)


def run(spark: SparkSession, sql: str) -> DataFrame:
    """A compiled DuckDB query run step by step in Spark (see ``steps``)."""
    parts, final = steps(sql)
    for step in parts:
        frame = spark.sql(step.sql)
        if step.cached:  # computed now, and its plan cut to the stored result
            frame = frame.localCheckpoint(eager=True)
        frame.createOrReplaceTempView(step.name)
    return spark.sql(final)


def _drop(spark: SparkSession, sql: str) -> None:
    for step in steps(sql)[0]:
        spark.catalog.dropTempView(step.name)


def hits(spark: SparkSession, rules: Sequence[Rule], lists: ListStore | None) -> pa.Table:
    """The hits of ``rules`` over the view ``flat``, in processing order (``HIT_COLUMNS``)."""
    return run(spark, compile_rules(rules, lists)).toArrow()


def features(spark: SparkSession, rules: Sequence[Rule], lists: ListStore | None) -> pa.Table:
    """Every distinct feature on every row of ``flat`` (``sql.compile_features``)."""
    sql, _features = compile_features(rules, lists)
    return run(spark, sql).toArrow()


def backtest_spark(
    rules: Sequence[Rule],
    events: Path | str,
    fmt: str | None = None,
    lists: ListStore | None = None,
    out: Path | str | None = None,
    *,
    spark: SparkSession | None = None,
) -> BacktestResult:
    """``backtest.backtest`` on Spark: the same hits, counts and CSV. Starts a local session
    unless one is given; raises ``SparkUnavailable`` when pyspark or Java is missing."""
    started = time.perf_counter()
    if spark is None:
        with session() as own:
            return backtest_spark(rules, events, fmt, lists, out, spark=own)
    path = Path(events)
    with tempfile.TemporaryDirectory(prefix="riskops-flat-") as tmp:
        try:
            total_events, rejected = load_flat(spark, path, fmt, Path(tmp))
            found = hits(spark, rules, lists)
            total_rows = int(spark.table("flat").count())
        finally:
            spark.catalog.clearCache()
    con = duck.connect(2)
    try:
        con.register("hits", found)
        return summarise(con, rules, (total_events, total_rows, rejected), started, out)
    finally:
        con.close()
