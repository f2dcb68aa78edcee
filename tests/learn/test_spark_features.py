"""The learning features on Spark equal DuckDB's, every feature of every row (ADR 0045).

``learn.spark`` runs ``learn.batch.plan`` transpiled; these tests hold the two engines to
the same numbers (counts exact, floats within 1e-9 relative) on a simulated exchange with
hand-made cycles, on the start of AMLSim 10K through ``riskops train``'s reader, and on
``riskops evaluate``'s whole protocol. One local SparkSession serves the run (``spark`` in
conftest.py, shared with the backtest tests; it takes seconds to start). Without pyspark or
Java the Spark tests skip with the reason; with RISKOPS_REQUIRE_SERVICES=1 (CI) they fail.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from test_evaluate import write_fixture
from test_features_parity import COUNTS
from typer.testing import CliRunner

from riskops.learn import batch, training
from riskops.learn import spark as learn_spark
from riskops.learn.evaluate import evaluate
from riskops.learn.features import FEATURE_NAMES, MONEY_TYPES
from riskops.rules import spark as rules_spark
from riskops.rules.parity import sort_rows
from support import AMLSIM_TRANS, money_rows, require_data, simulated_rows


def assert_same(duck: npt.NDArray[np.float64], got: npt.NDArray[np.float64]) -> None:
    """Counts exact, every other feature within 1e-9 relative, row for row."""
    assert duck.shape == got.shape
    assert np.array_equal(duck[:, COUNTS], got[:, COUNTS])
    bad = np.abs(duck - got) > 1e-9 * np.maximum(1.0, np.abs(duck))
    where = [
        (int(i), FEATURE_NAMES[j], duck[i, j], got[i, j])
        for i, j in zip(*np.nonzero(bad), strict=True)
    ]
    assert not where, where[:5]


def vectors(table: pa.Table) -> npt.NDArray[np.float64]:
    return np.column_stack([table.column(n).to_numpy() for n in FEATURE_NAMES])


# --- the definition, as SQL ----------------------------------------------------------------


def test_the_spark_query_is_the_batch_plan_transpiled() -> None:
    parts, final = rules_spark.steps(learn_spark.feature_query())
    assert [(s.name, s.cached) for s in parts] == [(n, True) for n in batch.WORK_TABLES]
    spark_sql = " ".join(s.sql for s in parts) + final
    assert "SUM(CAST(cents AS DECIMAL(38, 0))) OVER a" in spark_sql  # DuckDB's HUGEINT
    assert "INT128" not in spark_sql and "HUGEINT" not in spark_sql
    assert "RANGE BETWEEN UNBOUNDED PRECEDING AND 86399999999 FOLLOWING" in spark_sql


def test_hugeint_becomes_a_decimal_spark_has() -> None:
    sql = rules_spark.to_spark("SELECT sum(x::HUGEINT) OVER (PARTITION BY a), y::BIGINT FROM t")
    assert (
        sql
        == "SELECT SUM(CAST(x AS DECIMAL(38, 0))) OVER (PARTITION BY a), CAST(y AS BIGINT) FROM t"
    )


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_the_commands_say_what_is_missing_for_spark(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.cli import app

    events = tmp_path / "small_Trans.csv"
    write_fixture(events)
    args = [command, "--events", str(events)]
    if command == "evaluate":
        args += ["--out", str(tmp_path / "scores.csv")]
    monkeypatch.setattr(rules_spark, "unavailable", lambda: "pyspark is not installed (x)")
    result = CliRunner().invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 1
    assert "--engine spark: pyspark is not installed" in result.output
    bad = CliRunner().invoke(app, [*args, "--engine", "presto"])
    assert bad.exit_code == 1 and "duckdb or spark" in bad.output
    assert not (tmp_path / "scores.csv").exists()


# --- the engines side by side --------------------------------------------------------------


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """A simulated exchange (all four money types), and before it hand-made transfers that
    close a three-cycle and a pair of busy sides whose cycles are not searched (-1)."""
    out = tmp_path_factory.mktemp("learn-spark-sim")
    rows = simulated_rows(out, accounts=300, days=20, seed=5)
    seq = len(rows) + 1
    for a, b, day in (("a", "b", 0), ("b", "c", 0.1), ("c", "a", 0.2)):
        rows += money_rows(seq, "transfer.internal", a, b, day, 100, True)
        seq += 1
    for i in range(65):  # h receives from 65 parties and g pays 65 parties
        rows += money_rows(seq, "transfer.internal", f"s{i}", "h", 1, 100, True)
        rows += money_rows(seq + 1, "transfer.internal", "g", f"t{i}", 1, 100, True)
        seq += 2
    rows += money_rows(seq, "transfer.internal", "h", "g", 1.5, 100, True)
    return sort_rows(rows)


@pytest.mark.timeout(600)  # a dozen Spark jobs: a minute on a busy 2-core machine
def test_every_feature_of_every_row_on_a_simulated_exchange(
    spark: Any, exchange: list[dict[str, Any]]
) -> None:
    flat = batch.rows_table(exchange)
    con = batch.connect()
    try:
        con.register("flat", flat)
        duck = batch.features(con, "flat")
    finally:
        con.close()
    got = learn_spark.features(flat, spark=spark)
    assert got.schema == duck.schema
    for name in batch.KEY_COLUMNS:  # the same rows, in the same order
        assert got.column(name).to_pylist() == duck.column(name).to_pylist(), name
    assert_same(vectors(duck), vectors(got))
    # what is compared is not trivial: every money type, both sides, cycles closed and capped
    money = {r["type"] for r in exchange if r["row"] == 0 and r["type"] in MONEY_TYPES}
    assert money == set(MONEY_TYPES)
    cycles = set(got.column("cycle3_7d").to_pylist())
    assert {0.0, 1.0, -1.0} <= cycles
    assert max(got.column("cp.in_cp_30d").to_pylist()) > 1


@pytest.mark.timeout(600)
def test_every_feature_on_amlsim_through_the_training_reader(spark: Any, tmp_path: Path) -> None:
    require_data(AMLSIM_TRANS)
    path = tmp_path / "amlsim_Trans.csv"
    with gzip.open(AMLSIM_TRANS, "rt") as source, path.open("w") as target:
        for n, line in enumerate(source):
            if n > 3_000:  # the header and 3,000 transfers, about nine days
                break
            target.write(line)
    duck = training.from_amlworld(path)
    got = training.from_amlworld(path, engine="spark", spark=spark)
    assert np.array_equal(got.ts_us, duck.ts_us)
    assert np.array_equal(got.y, duck.y) and duck.y.sum() > 0
    assert_same(duck.x, got.x)
    i1, i7 = FEATURE_NAMES.index("own.out_n_1d"), FEATURE_NAMES.index("own.out_n_7d")
    assert (got.x[:, i7] > got.x[:, i1]).any()  # the windows really move


@pytest.mark.timeout(600)
def test_evaluate_on_spark_scores_every_row_as_on_duckdb(spark: Any, tmp_path: Path) -> None:
    events = tmp_path / "small_Trans.csv"
    write_fixture(events)
    duck = evaluate(events, seed=3)
    got = evaluate(events, seed=3, engine="spark", spark=spark)
    assert np.array_equal(got.source_row, duck.source_row)
    assert np.array_equal(got.split, duck.split)
    assert np.array_equal(got.score, duck.score)
    assert (got.threshold, got.test) == (duck.threshold, duck.test)
