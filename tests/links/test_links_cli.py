"""``riskops links ACCOUNT --json`` and ``riskops who-else KIND VALUE --json``."""

from __future__ import annotations

import json
from pathlib import Path

from links_fakes import created, transfer
from typer.testing import CliRunner

from riskops.cli import app
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.links.keeper import LinkKeeper

runner = CliRunner()


def seed() -> None:
    engine = open_database()
    events = [
        created("1", "a", device="dev-1", minutes=1),
        created("2", "b", device="dev-1", minutes=2),
        created("3", "c", email="c@example.com", minutes=3),
        transfer("4", "b", "c", minutes=4),
    ]
    with unit_of_work(session_factory(engine)) as session:
        LinkKeeper().record(session, [(e, i) for i, e in enumerate(events, 1)])
    engine.dispose()


def test_links_json_names_each_account_with_what_links_it(data_dir: Path) -> None:
    seed()
    result = runner.invoke(app, ["links", "a", "--hops", "2", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["account_id"] == "a" and answer["hops"] == 2
    items = {i["account_id"]: i for i in answer["items"]}
    assert set(items) == {"b", "c"}
    assert items["b"]["hop"] == 1 and items["b"]["via"] is None
    assert [(s["kind"], s["value"]) for s in items["b"]["shared"]] == [("device", "dev-1")]
    assert items["b"]["shared"][0]["first_shared"].startswith("2026-11-01T12:02:00")
    assert (items["c"]["hop"], items["c"]["via"]) == (2, "b")
    assert [(s["kind"], s["value"]) for s in items["c"]["shared"]] == [("transfer", "c")]


def test_links_table_and_who_else(data_dir: Path) -> None:
    seed()
    table = runner.invoke(app, ["links", "b"])
    assert table.exit_code == 0 and "dev-1" in table.output and "transfer" in table.output
    who = runner.invoke(app, ["who-else", "device", " dev-1 ", "--json"])
    assert who.exit_code == 0, who.output
    assert [u["account_id"] for u in json.loads(who.stdout)["items"]] == ["a", "b"]
    bad = runner.invoke(app, ["who-else", "colour", "red"])
    assert bad.exit_code != 0 and "unknown kind" in bad.output
