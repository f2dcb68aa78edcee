"""Backtests over simulated event files: Parquet (DuckDB end to end) and NDJSON (adapters)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from riskops.events.tabular import flat_sql
from riskops.rules.backtest import CSV_COLUMNS, backtest
from riskops.rules.definition import load_default_pack, parse_rules
from riskops.rules.lists import ListStore, default_lists
from riskops.rules.parity import parity_check, run_sql
from riskops.rules.sql import compile_rules, row_conditions

from .helpers import row, rule


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from riskops.sim.generator import SimConfig
    from riskops.sim.writer import simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(SimConfig(accounts=300, days=10, seed=7), out, "both")
    return out


def _lists(sim: Path) -> ListStore:
    return default_lists().merged(ListStore.from_dir(sim / "lists"))


def test_parquet_and_ndjson_agree_and_write_hits(sim: Path, tmp_path: Path) -> None:
    rules = load_default_pack()
    a = backtest(rules, sim / "events.parquet", lists=_lists(sim), out=tmp_path / "a.csv")
    b = backtest(rules, sim / "events.ndjson", lists=_lists(sim), out=tmp_path / "b.csv")
    assert a.total_events == b.total_events > 0
    assert a.hits > 0
    assert a.hits_per_rule == b.hits_per_rule
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    with (tmp_path / "a.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        assert sum(1 for _ in reader) == a.hits


def test_default_pack_parity_on_simulated_events(sim: Path) -> None:
    path = sim / "events.parquet"
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW ev AS SELECT * EXCLUDE (file_row_number), file_row_number AS "
        f"source_row FROM read_parquet('{path}', file_row_number = true)"
    )
    rows = con.sql(flat_sql("ev", pq.ParquetFile(path).schema_arrow.names)).to_arrow_table()
    assert parity_check(load_default_pack(), _lists(sim), rows.to_pylist(), features=True) == []


def test_cli_backtest_and_validate(sim: Path, tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from riskops.cli import app

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump(
            [
                {
                    "id": "DEP-1",
                    "version": 1,
                    "status": "draft",
                    "typology": "structuring",
                    "when": ["deposit"],
                    "features": {"n": {"agg": "count", "window": "1d"}},
                    "if": {"feature": "n", "gte": 2},
                    "action": "review",
                    "score": 10,
                }
            ]
        )
    )
    runner = CliRunner()
    result = runner.invoke(app, ["rules", "validate", str(rules)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "HITS.csv"
    result = runner.invoke(
        app, ["backtest", str(rules), "--events", str(sim / "events.parquet"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "DEP-1" in result.output
    assert out.read_text().startswith("rule_id,rule_version,event_id,account_id,source_row,row")
    bad = tmp_path / "bad.yaml"
    bad.write_text(rules.read_text().replace("gte", "gtt"))
    result = runner.invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert "unknown operator 'gtt'" in result.output


def test_row_conditions_prune_joins_but_not_windows() -> None:
    """Rows a rule cannot hit (its feature-free conditions fail) still count in its windows,
    and rules sharing a feature with other row conditions or none still see every value."""
    deposits_1h = {"agg": "count", "window": "1h", "where": {"field": "type", "eq": "deposit"}}
    big_after_small = rule(
        ["deposit"],
        {"all": [{"field": "usd_cents", "gte": 500}, {"feature": "n", "gte": 3}]},
        {"n": deposits_1h},
        id="BIG",
    )
    small_or_many = rule(
        ["deposit", "withdrawal.requested"],
        {"any": [{"field": "usd_cents", "lt": 10}, {"feature": "n", "gte": 4}]},
        {"n": deposits_1h},
        id="ANY",
    )
    not_first = rule(
        ["deposit"],
        {"all": [{"not": {"field": "rail", "eq": "card"}}, {"feature": "n", "gte": 2}]},
        {"n": deposits_1h},
        id="NOT",
    )
    rules = parse_rules([big_after_small, small_or_many, not_first])
    assert [len(row_conditions(r)) for r in rules] == [1, 0, 1]
    rows = [
        row(0, "deposit", 0, usd_cents=5, rail="card"),
        row(1, "deposit", 10, usd_cents=100, rail="bank"),
        row(2, "withdrawal.requested", 20, usd_cents=1000),
        row(3, "deposit", 30, usd_cents=900, rail="card"),
        row(4, "deposit", 40, usd_cents=None),
        row(5, "deposit", 4000, usd_cents=700),
    ]
    assert parity_check(rules, ListStore(), rows, features=True) == []
    sql_hits = {
        (rule_id, seq)
        for rule_id, _v, _e, _w, _a, _sr, seq, _t in run_sql(compile_rules(rules), rows)
    }
    assert sql_hits == {("ANY", 0), ("BIG", 3), ("ANY", 4), ("NOT", 1)}
