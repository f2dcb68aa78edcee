"""``riskops sar list | export | purge`` on the configured (SQLite) database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sar_fakes import T0, approved, open_case, users
from typer.testing import CliRunner

from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.sar import cli, service
from support import cli_app


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    with cli_app(cli.register, tmp_path / "data", monkeypatch) as app:
        yield app


def _reports() -> tuple[int, int]:
    """An approved report and a bare draft (no subject, no transaction)."""
    engine = open_database()
    try:
        with unit_of_work(session_factory(engine)) as session:
            u = users(session)
            done = approved(session, u, "acc-1")
            bare = service.draft_from_case(session, u["ana"], open_case(session, "acc-2").id)
            bare.subjects = []
            return done.id, bare.id
    finally:
        engine.dispose()


def test_list_export_and_refusal_with_the_schema_errors(
    riskops: typer.Typer, tmp_path: Path
) -> None:
    done, bare = _reports()
    listed = CliRunner().invoke(riskops, ["sar", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert {(r["id"], r["status"]) for r in rows} == {(done, "approved"), (bare, "draft")}

    out = tmp_path / "goaml.xml"
    ok = CliRunner().invoke(
        riskops, ["sar", "export", str(done), "--format", "goaml", "--out", str(out)]
    )
    assert ok.exit_code == 0, ok.output
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in ok.output

    bad = tmp_path / "bad.xml"
    refused = CliRunner().invoke(
        riskops, ["sar", "export", str(bare), "--format", "fincen", "--out", str(bad)]
    )
    assert refused.exit_code == 1
    assert "subjects: name at least one subject" in refused.output
    assert not bad.exists()


def test_purge_dry_run_then_for_real(riskops: typer.Typer) -> None:
    done, bare = _reports()
    engine = open_database()
    try:
        with unit_of_work(session_factory(engine)) as session:
            report = service.repo.get(session, bare)
            assert report is not None
            report.retention_until = T0 - timedelta(days=1)
    finally:
        engine.dispose()
    dry = CliRunner().invoke(riskops, ["sar", "purge", "--dry-run"])
    assert dry.exit_code == 0 and f"would purge 1: {bare}" in dry.output
    real = CliRunner().invoke(riskops, ["sar", "purge"])
    assert real.exit_code == 0 and f"purged 1: {bare}" in real.output
    listed = json.loads(CliRunner().invoke(riskops, ["sar", "list", "--json"]).stdout)
    assert [r["id"] for r in listed] == [done]
