"""Backtests over simulated event files: Parquet (DuckDB end to end) and NDJSON (adapters)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from riskops.events.tabular import flat_sql
from riskops.rules.backtest import CSV_COLUMNS, backtest
from riskops.rules.lists import ListStore, default_lists
from riskops.rules.model import load_default_pack
from riskops.rules.parity import parity_check


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
