"""``riskops qa sample`` and ``riskops qa agreement`` on the configured (SQLite) database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from qa_fakes import closed_case, user
from typer.testing import CliRunner

from riskops.auth.permissions import Principal, Role
from riskops.kernel.clock import utcnow
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.qa import cli, service
from riskops.qa.schemas import PlanIn, ReviewIn
from support import cli_app

SYSTEM = Principal.system("tests")


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    with cli_app(cli.register, tmp_path / "data", monkeypatch) as app:
        yield app


def run(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, ["qa", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_sample_then_agreement_as_json(riskops: typer.Typer) -> None:
    engine = open_database()
    try:
        with unit_of_work(session_factory(engine)) as session:
            sam = user(session, "sam", Role.SENIOR_ANALYST)
            for _ in range(3):
                closed_case(session, analyst="ana", closed_at=utcnow() - timedelta(hours=1))
        assert "sampled 0" in run(riskops, "sample")  # no plan yet: nothing is drawn
        with unit_of_work(session_factory(engine)) as session:
            service.save_plan(session, SYSTEM, PlanIn(base_rate=1.0))
        # without a plan the cursor stayed: the first plan's pass reads the history
        assert "read 3 closed case(s), sampled 3" in run(riskops, "sample")
        with unit_of_work(session_factory(engine)) as session:
            closed_case(session, analyst="ana", closed_at=utcnow() - timedelta(minutes=30))
        assert "read 1 closed case(s), sampled 1" in run(riskops, "sample")
        with unit_of_work(session_factory(engine)) as session:
            samples, total = service.waiting(session, SYSTEM)
            assert total == 4
            service.review(session, sam, samples[0].id, ReviewIn("agree"))
    finally:
        engine.dispose()
    rows = json.loads(run(riskops, "agreement", "--by", "analyst", "--json"))
    assert [(r["key"], r["reviewed"], r["agreed"], r["kappa"]) for r in rows] == [
        ("ana", 1, 1, None)
    ]
    assert "R-1" in run(riskops, "agreement", "--by", "rule")
    refused = CliRunner().invoke(riskops, ["qa", "agreement", "--by", "queue"])
    assert refused.exit_code == 1
