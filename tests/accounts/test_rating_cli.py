"""``riskops rating show ACCOUNT [--json]`` and ``riskops rating recompute`` after the
deployment's country list changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskops.accounts import rating
from riskops.accounts.models import AccountProfile
from riskops.cli import app
from riskops.kernel.config import get_settings
from riskops.kernel.db import open_database, session_factory, unit_of_work

runner = CliRunner()
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def policy_cache() -> Iterator[None]:
    rating.default_policy.cache_clear()
    yield
    rating.default_policy.cache_clear()


def seed(*accounts: str) -> None:
    engine = open_database()
    with unit_of_work(session_factory(engine)) as session:
        for account in accounts:
            session.add(
                AccountProfile(
                    account_id=account,
                    opened_at=datetime(2025, 1, 1, tzinfo=UTC),
                    country="DE",
                    corporate=False,
                    kyc_level=2,
                    kyc_status="approved",
                    updated_at=NOW,
                )
            )
        session.flush()
        rating.recompute_many(session, accounts, trigger="test", now=NOW)
    engine.dispose()


def test_show_prints_the_band_and_reasons(data_dir: Path, policy_cache: None) -> None:
    seed("a")
    shown = runner.invoke(app, ["rating", "show", "a", "--json", "--history", "5"])
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.stdout)
    assert (answer["account_id"], answer["band"], answer["score"]) == ("a", "low", 0)
    assert [h["trigger"] for h in answer["history"]] == ["test"]
    missing = runner.invoke(app, ["rating", "show", "nobody"])
    assert missing.exit_code == 1


def test_recompute_all_after_the_deployment_list_changed(
    data_dir: Path, policy_cache: None
) -> None:
    seed("a", "b")
    lists = get_settings().data_dir / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "high_risk_countries.txt").write_text("DE\n")
    rating.default_policy.cache_clear()  # a restart reads the files again
    done = runner.invoke(app, ["rating", "recompute", "--all", "--page", "1"])
    assert done.exit_code == 0, done.output
    assert "2 account(s) rated" in done.output
    shown = json.loads(runner.invoke(app, ["rating", "show", "b", "--json"]).stdout)
    assert [r["code"] for r in shown["reasons"]] == ["COUNTRY_HIGH_RISK"]
    assert runner.invoke(app, ["rating", "recompute"]).exit_code != 0  # nothing named
