from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from typer.testing import CliRunner

from riskops.cli import app
from riskops.events.tabular import table_to_wire_dicts
from riskops.sim.generator import SimConfig
from riskops.sim.writer import SimResult, load_account_roles, load_labels, simulate

LISTS = ("sanctioned", "darknet", "mixer")


def test_labels_round_trip(small_run: SimResult) -> None:
    events, accounts = load_labels(small_run.out_dir)
    assert events == small_run.event_labels
    assert accounts == small_run.account_labels
    some = next(iter(events.values()))
    assert some.scenario_id.startswith(some.typology)
    roles = {row["role"] for row in load_account_roles(small_run.out_dir)}
    assert {"victim", "mule", "sender", "controller", "fraudster"} <= roles


def test_lists_hold_most_but_not_all_exposure_addresses(
    small_run: SimResult, small_events: list[dict[str, Any]]
) -> None:
    listed: set[str] = set()
    for name in LISTS:
        lines = (small_run.out_dir / "lists" / f"{name}_addresses.txt").read_text().splitlines()
        assert len(lines) >= 100  # a feed is bigger than what the events show
        listed.update(lines)
    exposed = {
        e.get("address") or e.get("source_address")
        for e in small_events
        if small_run.event_labels.get(e["event_id"]) == "sanctions_exposure"
    }
    assert exposed
    assert 0.5 <= len(exposed & listed) / len(exposed) <= 1.0


def test_parquet_has_the_same_events(
    small_run: SimResult, small_events: list[dict[str, Any]]
) -> None:
    table = pq.read_table(small_run.paths["events_parquet"])
    assert table.num_rows == len(small_events)
    rows = list(table_to_wire_dicts(table.slice(0, 200)))
    assert [r["event_id"] for r in rows] == [e["event_id"] for e in small_events[:200]]


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    config = SimConfig(accounts=150, days=4, seed=3)
    a = simulate(config, tmp_path / "a", "both")
    b = simulate(config, tmp_path / "b", "both")
    for key, path in a.paths.items():
        assert path.read_bytes() == b.paths[key].read_bytes(), key


def test_cli_simulate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["simulate", "--accounts", "120", "--days", "3", "--seed", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "events.ndjson",
        "labels_events.csv",
        "labels_accounts.csv",
        "manifest.json",
        "lists/sanctioned_addresses.txt",
    ):
        assert (out / name).exists(), name
    assert not (out / "events.parquet").exists()


def test_cli_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--format", "xml"])
    assert result.exit_code != 0
