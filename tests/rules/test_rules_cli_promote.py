"""``riskops rules promote / approve / reject / requests``: the command line asks, a second
person approves; nothing promotes on one person's word (the four-eyes of ADR 0040)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from riskops.authoring import cli as authoring_cli
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.rules import cli as rules_cli
from riskops.rules import repository as rules_repo
from support import cli_app, make_user

T = TypeVar("T")


def _db(what: Callable[[Session], T]) -> T:
    engine = open_database()
    try:
        with unit_of_work(session_factory(engine)) as session:
            return what(session)
    finally:
        engine.dispose()


def _register(app: typer.Typer) -> None:
    authoring_cli.register(app)  # either order: both join the one ``rules`` group
    rules_cli.register(app)


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    with cli_app(_register, tmp_path / "data", monkeypatch) as app:
        yield app


def _status(rule_id: str, version: int) -> str:
    row = _db(lambda s: rules_repo.get_version(s, rule_id, version))
    assert row is not None
    return row.status


RULE = """\
- id: CLI-001
  version: 1
  status: draft
  typology: structuring
  when: [deposit]
  if: {field: usd_cents, gte: 100}
  action: review
  score: 10
"""


def test_promote_is_a_request_that_a_second_person_approves(
    riskops: typer.Typer, tmp_path: Path
) -> None:
    runner = CliRunner()
    rule_file = tmp_path / "rule.yaml"
    rule_file.write_text(RULE, encoding="utf-8")
    assert runner.invoke(riskops, ["rules", "load", str(rule_file), "--by", "rui"]).exit_code == 0

    def users(s: Session) -> None:
        make_user(s, "rui", "rule_author")
        make_user(s, "rita", "rule_author")
        make_user(s, "ana", "analyst")

    _db(users)
    asked = runner.invoke(
        riskops, ["rules", "promote", "CLI-001", "1", "live", "--as", "rui", "--why", "tested"]
    )
    assert asked.exit_code == 0, asked.output
    assert "request #1" in asked.output and "waits for a second person" in asked.output
    assert _status("CLI-001", 1) == "draft"

    no_name = runner.invoke(riskops, ["rules", "promote", "CLI-001", "1", "live"])
    assert no_name.exit_code != 0 and "--as" in no_name.output
    no_why = runner.invoke(riskops, ["rules", "promote", "CLI-001", "1", "shadow", "--as", "rui"])
    assert no_why.exit_code == 1 and "why: a reason is required" in no_why.output
    analyst = runner.invoke(
        riskops, ["rules", "promote", "CLI-001", "1", "shadow", "--as", "ana", "--why", "x"]
    )
    assert analyst.exit_code == 1 and "rule:promote" in analyst.output

    listed = runner.invoke(riskops, ["rules", "requests", "--as", "rita"])
    assert "#1  rule CLI-001 v1: draft -> live" in listed.output and "1 pending" in listed.output

    own = runner.invoke(riskops, ["rules", "approve", "1", "--as", "rui"])
    assert own.exit_code == 1 and "four-eyes" in own.output
    assert _status("CLI-001", 1) == "draft"
    unknown = runner.invoke(riskops, ["rules", "approve", "1", "--as", "nobody"])
    assert unknown.exit_code == 1 and "not found" in unknown.output

    approved = runner.invoke(riskops, ["rules", "approve", "1", "--as", "rita", "--why", "ok"])
    assert approved.exit_code == 0, approved.output
    assert "CLI-001 v1 is now live" in approved.output
    assert _status("CLI-001", 1) == "live"
    again = runner.invoke(riskops, ["rules", "approve", "1", "--as", "rita"])
    assert again.exit_code == 1 and "already approved" in again.output

    retire = runner.invoke(
        riskops, ["rules", "promote", "CLI-001", "1", "retired", "--as", "rita", "--why", "noisy"]
    )
    assert retire.exit_code == 0
    rejected = runner.invoke(riskops, ["rules", "reject", "2", "--as", "rui", "--why", "keep it"])
    assert rejected.exit_code == 0 and _status("CLI-001", 1) == "live"
    assert (
        "no request is pending"
        in runner.invoke(riskops, ["rules", "requests", "--as", "rui"]).output
    )
