"""The learning features on Spark: ``learn.batch``'s steps, transpiled (ADR 0045).

There is one definition of the batch features, ``learn.batch.plan``: named DuckDB
``SELECT``s (the work tables) and a final query. Here they become one ``WITH ... AS
MATERIALIZED`` query that ``rules.spark`` runs as it runs a backtest (ADR 0043): sqlglot
transpiles each step, the generic rewrites apply (``HUGEINT`` to ``DECIMAL(38, 0)``), and
each step is a temp view, checkpointed as DuckDB stores its work table. Nothing in the
feature SQL is written for Spark.

The input is the flat layout in Parquet (``events.flat``), read by Spark as the view
``flat``. The vectors leave Spark as Parquet files in processing order and are read back
batch by batch, so a 5M-row file never has its vectors collected whole on the driver.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from riskops.learn import batch
from riskops.rules import spark as rules_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

FLAT_VIEW = "flat"
# The driver's heap: on local Spark the driver runs the tasks, whose sorts and joins carry a
# 5M-row file's rows (they spill to disk beyond it). The backtest bench's figure.
MEMORY = "4g"
ENGINES = ("duckdb", "spark")  # where ``riskops train`` and ``evaluate`` compute features


def check_engine(engine: str) -> str | None:
    """Why ``engine`` cannot compute features here (None if it can): unknown, or Spark
    without pyspark or Java (``rules.spark.unavailable``)."""
    if engine not in ENGINES:
        return f"--engine must be duckdb or spark, not {engine!r}"
    if engine == "spark" and (reason := rules_spark.unavailable()) is not None:
        return f"--engine spark: {reason}"
    return None


def flat_parquet(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> Path:
    """A DuckDB table of flat rows (``learn.batch.read_amlworld``'s) written to Parquet for
    Spark, then dropped from DuckDB (its memory is Spark's now)."""
    quoted = str(path).replace("'", "''")
    con.execute(f"COPY {table} TO '{quoted}' (FORMAT parquet)")
    con.execute(f"DROP TABLE {table}")
    return path


def feature_query(table: str = FLAT_VIEW) -> str:
    """``learn.batch.plan`` as one DuckDB query, every step a materialised CTE."""
    steps, final = batch.plan(table)
    ctes = ",\n".join(f"{step.name} AS MATERIALIZED ({step.sql})" for step in steps)
    return f"WITH {ctes}\n{final}"


def write_features(spark: SparkSession, out: Path) -> int:
    """The features of the view ``flat`` as Parquet files under ``out`` (a new directory),
    in processing order; return the number of vectors."""
    sql = feature_query()
    try:
        frame = rules_spark.run(spark, sql)
        batch.check_columns(frame.columns)
        # A sorted frame is written one range of the order per file, in file-name order.
        frame.write.parquet(str(out))
        count = spark.sql(rules_spark.to_spark(batch.COUNT_SQL)).collect()[0][0]
    finally:
        for step in rules_spark.steps(sql)[0]:
            spark.catalog.dropTempView(step.name)
        spark.catalog.clearCache()
    return int(count)


def read_features(out: Path, rows: int = 500_000) -> pa.RecordBatchReader:
    """The vectors ``write_features`` wrote, in processing order, in batches of at most
    ``rows``, with the columns of ``learn.batch.features``."""
    files = sorted(out.glob("part-*.parquet"))
    if not files:
        raise RuntimeError(f"Spark wrote no feature files in {out}")
    written = pq.ParquetFile(files[0]).schema_arrow
    batch.check_columns(written.names)
    # DuckDB's schema: every column nullable, no Spark metadata.
    schema = pa.schema([pa.field(f.name, f.type) for f in written])

    def batches() -> Iterator[pa.RecordBatch]:
        for path in files:
            for got in pq.ParquetFile(path).iter_batches(rows):
                yield pa.RecordBatch.from_arrays(got.columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def load_flat(spark: SparkSession, flat: Path) -> None:
    """A flat-layout Parquet file (or directory) as the view ``flat``."""
    spark.read.parquet(str(flat)).createOrReplaceTempView(FLAT_VIEW)


@contextmanager
def feature_files(
    flat: Path | pa.Table, *, spark: SparkSession | None = None, memory: str = MEMORY
) -> Iterator[tuple[Path, int]]:
    """The features of flat rows (a Parquet file, or an Arrow table written as one) computed
    on Spark, as (the directory of their Parquet files, the number of vectors); the files
    are removed on exit. Starts a local session unless one is given (``rules.spark.session``,
    which raises ``SparkUnavailable`` without pyspark or Java)."""
    with tempfile.TemporaryDirectory(prefix="riskops-features-") as tmp:
        work = Path(tmp)
        if isinstance(flat, pa.Table):
            path = work / "flat.parquet"
            pq.write_table(flat, path)
            flat = path
        out = work / "features"
        if spark is None:
            with rules_spark.session(memory=memory) as own:
                load_flat(own, flat)
                count = write_features(own, out)
        else:
            load_flat(spark, flat)
            count = write_features(spark, out)
        yield out, count


def features(
    flat: Path | pa.Table, *, spark: SparkSession | None = None, memory: str = MEMORY
) -> pa.Table:
    """``learn.batch.features`` on Spark: the same table, row for row."""
    with feature_files(flat, spark=spark, memory=memory) as (out, _count):
        return read_features(out).read_all()
