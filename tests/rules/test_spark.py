"""Backtests on Spark give exactly DuckDB's hits (ADR 0043).

One local SparkSession serves the run (``spark`` in conftest.py, shared with the learning
features' tests; it takes seconds to start). Without pyspark or Java the Spark tests skip
with the reason; with RISKOPS_REQUIRE_SERVICES=1 (CI) they fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from riskops.events.flat import FLAT_SCHEMA, to_rows
from riskops.events.tabular import flat_sql
from riskops.rules import spark as engine
from riskops.rules.backtest import backtest
from riskops.rules.definition import Rule, load_default_pack, parse_rules
from riskops.rules.lists import ListStore, default_lists
from riskops.rules.parity import run_sql, sort_rows
from riskops.rules.sql import compile_rules

from .helpers import row, rule
from .test_pack_parity import handmade

# Rules the corpus below (500 simulated accounts over 30 days and the pack parity test's
# hand-made sequences) does not trigger; every other rule fires, so its parity is proved.
# tests/rules/test_pack_parity.py covers these with the AMLSim file and 1,500 accounts.
SILENT_ON_CORPUS = {
    "ATO-002",
    "CF-003",
    "CF-004",
    "KYB-001",
    "MA-004",
    "MU-002",
    "MU-006",
    "SIM-001",
    "ST-001",
    "ST-003",
    "SX-003",
}


def _spark_hits(spark: Any, rules: list[Rule], rows: list[dict[str, Any]], tmp: Path) -> list:
    engine.flat_path(spark, pa.Table.from_pylist(rows, schema=FLAT_SCHEMA), tmp)
    try:
        return [tuple(r.values()) for r in engine.hits(spark, rules, None).to_pylist()]
    finally:
        spark.catalog.clearCache()


def _both(spark: Any, rules: list[Rule], rows: list[dict[str, Any]], tmp: Path) -> list:
    """The hits of both engines on the same flat rows, asserted equal, as (rule, seq)."""
    ordered = sort_rows(rows)
    duck = [tuple(h) for h in run_sql(compile_rules(rules), ordered)]
    got = _spark_hits(spark, rules, ordered, tmp)
    assert got == duck
    return [(h[0], h[6]) for h in got]


# --- the rewrites, as SQL ---------------------------------------------------------------


def test_count_distinct_over_a_window_becomes_a_set_size() -> None:
    sql = engine.to_spark(
        "WITH b AS MATERIALIZED (SELECT * FROM flat) SELECT count(DISTINCT ip) FILTER "
        "(WHERE success) OVER (PARTITION BY account_id ORDER BY k RANGE BETWEEN 9 PRECEDING "
        "AND CURRENT ROW) AS n, epoch_us(t) AS u FROM b"
    )
    assert "MATERIALIZED" not in sql
    assert "DISTINCT" not in sql
    assert "CAST(SIZE(COLLECT_SET(ip) FILTER(WHERE success) OVER (PARTITION BY" in sql
    assert "UNIX_MICROS(t) AS u" in sql


def test_steps_keep_the_ctes_in_order_and_mark_the_materialised() -> None:
    parts, final = engine.steps(
        "WITH a AS MATERIALIZED (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT x FROM b"
    )
    assert [(s.name, s.cached) for s in parts] == [("a", True), ("b", False)]
    assert final == "SELECT x FROM b"


def test_cli_says_how_to_get_spark_when_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.cli import app

    monkeypatch.setattr(engine, "unavailable", lambda: "pyspark is not installed (x)")
    events = tmp_path / "e.ndjson"
    events.write_text("")
    result = CliRunner().invoke(app, ["backtest", "--events", str(events), "--engine", "spark"])
    assert result.exit_code == 1
    assert "--engine spark: pyspark is not installed" in result.output
    bad = CliRunner().invoke(app, ["backtest", "--events", str(events), "--engine", "presto"])
    assert bad.exit_code == 1 and "duckdb or spark" in bad.output


# --- each rewrite on a tiny hand-made table ------------------------------------------------


def test_count_distinct_over_a_range_window_with_ties_and_nulls(spark: Any, tmp_path: Path) -> None:
    rules = parse_rules(
        [
            rule(
                ["login"],
                {"feature": "ips", "gte": 2},
                {"ips": {"agg": "count_distinct", "field": "ip", "window": "1h"}},
            )
        ]
    )
    rows = [
        row(1, "login", 0, ip="1.1.1.1"),
        row(2, "login", 0, ip="1.1.1.1"),  # a tie at the same microsecond
        row(3, "login", 0, ip=None),  # a null takes no part
        row(4, "login", 10, ip="2.2.2.2"),
        # One hour later: the first 1.1.1.1 has left the window, but its tie (clock +1) has
        # not (docs/rules.md), so two distinct values still.
        row(5, "login", 3600, ip="2.2.2.2"),
        row(7, "login", 3601, ip="2.2.2.2"),  # now both 1.1.1.1 have left
        row(6, "login", 3610, ip=None, account_id="b"),
    ]
    assert _both(spark, rules, rows, tmp_path) == [("R-1", 4), ("R-1", 5)]


def test_lists_and_empty_lists(spark: Any, tmp_path: Path) -> None:
    lists = ListStore({"bad": {"TXbad"}, "empty": set()})
    docs = [
        rule(["withdrawal.requested"], {"field": "address", "in_list": "bad"}, id="L-1"),
        rule(["withdrawal.requested"], {"not": {"field": "address", "in_list": "empty"}}, id="L-2"),
        rule(["withdrawal.requested"], {"field": "address", "not_in": ["TXbad", "TXok"]}, id="L-3"),
    ]
    rules = parse_rules(docs)
    rows = [
        row(1, "withdrawal.requested", 0, address="TXbad"),
        row(2, "withdrawal.requested", 1, address="TXother"),
        row(3, "withdrawal.requested", 2, address=None),  # unknown everywhere: no hit
    ]
    ordered = sort_rows(rows)
    duck = [tuple(h) for h in run_sql(compile_rules(rules, lists), ordered)]
    engine.flat_path(spark, pa.Table.from_pylist(ordered, schema=FLAT_SCHEMA), tmp_path)
    got = [tuple(r.values()) for r in engine.hits(spark, rules, lists).to_pylist()]
    assert got == duck
    assert [(h[0], h[6]) for h in got] == [("L-1", 1), ("L-2", 1), ("L-2", 2), ("L-3", 2)]


def test_three_valued_logic(spark: Any, tmp_path: Path) -> None:
    docs = [
        rule(["login"], {"not": {"field": "success", "eq": True}}, id="N-1"),
        rule(
            ["login"],
            {"any": [{"field": "success", "eq": True}, {"field": "ip", "eq": "x"}]},
            id="N-2",
        ),
        rule(
            ["login"],
            {
                "all": [
                    {"field": "ip", "is_null": True},
                    {"not": {"field": "ip_country", "ne": "FR"}},
                ]
            },
            id="N-3",
        ),
    ]
    rows = [
        row(1, "login", 0, success=None, ip="x", ip_country="FR"),
        row(2, "login", 1, success=False, ip=None, ip_country="FR"),
        row(3, "login", 2, success=None, ip=None, ip_country=None),
    ]
    hits = _both(spark, parse_rules(docs), rows, tmp_path)
    assert hits == [("N-2", 1), ("N-1", 2), ("N-3", 2)]


# --- the default pack ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[dict[str, Any]], ListStore]:
    """A simulated exchange (Parquet, its flat rows as DuckDB's backtest reads them) and the
    hand-made sequences of the pack's parity test for the rules the simulation misses."""
    from riskops.sim import SimConfig, simulate

    out = tmp_path_factory.mktemp("spark-sim")
    simulate(SimConfig(accounts=500, days=30, seed=3), out, "both")
    path = out / "events.parquet"
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW ev AS SELECT * EXCLUDE (file_row_number), file_row_number AS "
        f"source_row FROM read_parquet('{path}', file_row_number = true)"
    )
    rows = con.sql(flat_sql("ev", pq.ParquetFile(path).schema_arrow.names)).to_arrow_table()
    flat = rows.to_pylist()
    seq = max(r["seq"] for r in flat)
    start = min(r["ts_us"] for r in flat) // 1_000_000
    for event in handmade(start):
        seq += 1
        flat.extend(to_rows(event, seq, seq))
    lists = default_lists().merged(ListStore.from_dir(out / "lists"))
    return out, sort_rows(flat), lists


@pytest.mark.timeout(900)  # some 56 Spark jobs: about 3 min on a busy 2-core machine
def test_default_pack_hit_for_hit(spark: Any, corpus: Any, tmp_path: Path) -> None:
    _out, rows, lists = corpus
    rules = load_default_pack()
    duck = [tuple(h) for h in run_sql(compile_rules(rules, lists), rows)]
    engine.flat_path(spark, pa.Table.from_pylist(rows, schema=FLAT_SCHEMA), tmp_path)
    got = [tuple(r.values()) for r in engine.hits(spark, rules, lists).to_pylist()]
    spark.catalog.clearCache()
    assert got == duck  # rule id, version, event id, row, account, source row, seq, ts
    silent = {r.id for r in rules} - {h[0] for h in got}
    assert silent == SILENT_ON_CORPUS


@pytest.mark.timeout(600)
def test_backtest_files_parquet_and_ndjson(spark: Any, corpus: Any, tmp_path: Path) -> None:
    out, _rows, lists = corpus
    rules = [r for r in load_default_pack() if r.id in ("MA-002", "PT-001", "ATO-001")]
    assert rules
    for name in ("events.parquet", "events.ndjson"):
        want = backtest(rules, out / name, lists=lists, out=tmp_path / f"duck-{name}.csv")
        got = engine.backtest_spark(
            rules, out / name, lists=lists, out=tmp_path / f"spark-{name}.csv", spark=spark
        )
        assert want.hits > 0
        assert got.hits_per_rule == want.hits_per_rule
        assert got.accounts_per_rule == want.accounts_per_rule
        assert (got.total_events, got.total_rows) == (want.total_events, want.total_rows)
        spark_csv = (tmp_path / f"spark-{name}.csv").read_text()
        assert spark_csv == (tmp_path / f"duck-{name}.csv").read_text()
