"""``riskops screening load | rescreen | hits`` on the configured (SQLite) database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import typer
from screening_store_fakes import NADIA, PETROV, ftm_file, kyc, log
from typer.testing import CliRunner

from riskops.kernel.db import open_database
from riskops.screening import cli
from support import cli_app

OFAC = Path("/work/shared/data/sanctions/ofac-sdn-excerpt")


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    with cli_app(cli.register, tmp_path / "data", monkeypatch) as app:
        yield app


def run(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, ["screening", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_load_twice_then_a_new_release_rescreens(riskops: typer.Typer, tmp_path: Path) -> None:
    engine = open_database()
    try:
        log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
        log(engine, kyc("acc-2", "Nadia Karimova", dob=date(1975, 2, 11)))
    finally:
        engine.dispose()
    v1 = ftm_file(tmp_path / "v1.jsonl", [PETROV])
    out = run(riskops, "load", "--source", "ftm", "--name", "os", str(v1))
    assert "os v1: 1 entries from ftm (new version)" in out
    assert "rescreened 2 subjects: 1 new hits" in out
    out = run(riskops, "load", "--source", "ftm", "--name", "os", str(v1))
    assert "already current: nothing stored" in out and "rescreened" not in out
    out = run(
        riskops, "load", "--name", "os", str(ftm_file(tmp_path / "v2.jsonl", [PETROV, NADIA]))
    )
    assert "os v2: 2 entries from ftm (new version)" in out
    assert "rescreened 2 subjects: 1 new hits" in out
    hits = json.loads(run(riskops, "hits", "--json"))
    assert sorted((h["account_id"], h["entry_id"]) for h in hits) == [
        ("acc-1", "p-1"),
        ("acc-2", "p-2"),
    ]
    mine = json.loads(run(riskops, "hits", "--account", "acc-2", "--json", "--status", "all"))
    assert [h["matched_name"] for h in mine] == ["Nadia Karimova"]
    assert "0 subjects screened" in run(riskops, "rescreen")


@pytest.mark.skipif(not OFAC.is_dir(), reason="the shared OFAC excerpt is not on this machine")
def test_load_the_ofac_excerpt(riskops: typer.Typer) -> None:
    files = [str(OFAC / name) for name in ("SDN.CSV", "ALT.CSV", "ADD.CSV")]
    out = run(riskops, "load", "--source", "ofac-sdn", *files)
    assert "ofac-sdn v1: 300 entries from ofac-sdn (new version)" in out


def test_a_bad_file_or_source_fails_cleanly(riskops: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    result = CliRunner().invoke(riskops, ["screening", "load", "--source", "ftm", str(bad)])
    assert result.exit_code == 1 and "not JSON" in result.output
    result = CliRunner().invoke(riskops, ["screening", "load", "--source", "xls", str(bad)])
    assert result.exit_code == 1 and "unknown source" in result.output
    result = CliRunner().invoke(riskops, ["screening", "hits", "--status", "maybe"])
    assert result.exit_code == 1 and "unknown status" in result.output
