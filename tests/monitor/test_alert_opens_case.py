"""Which monitor alert opens a case: one rule, in Python and in SQL (ADR 0039: an allow
hit is a signal, shown on cases, opening none; a shadow hit changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Alert, DecisionOutcome, opens_case

NOW = datetime(2026, 4, 1, 9, tzinfo=UTC)
# (rule id, shadow, action) -> opens a case
CASES = {
    ("LIVE-REVIEW", False, DecisionOutcome.REVIEW): True,
    ("LIVE-ALLOW", False, DecisionOutcome.ALLOW): False,
    ("SHADOW-REVIEW", True, DecisionOutcome.REVIEW): False,
    ("SHADOW-ALLOW", True, DecisionOutcome.ALLOW): False,
}


def _alert(rule_id: str, shadow: bool, action: DecisionOutcome) -> Alert:
    return Alert(
        rule_id=rule_id, rule_version=1, typology="mule", event_id=f"e-{rule_id}", row=0,
        account_id="acc-1", seq=1, action=action, score=50, reason="", shadow=shadow,
        created_at=NOW,
    )  # fmt: skip


def test_only_a_live_hit_that_acts_opens_a_case_in_python() -> None:
    for (rule_id, shadow, action), opens in CASES.items():
        assert opens_case(shadow, action) is opens, rule_id
        assert _alert(rule_id, shadow, action).opens_case is opens, rule_id
    # every action but allow acts
    acting = {a for a in DecisionOutcome if opens_case(False, a)}
    assert acting == {DecisionOutcome.REVIEW, DecisionOutcome.HOLD, DecisionOutcome.BLOCK}


def test_the_sql_form_selects_the_same_alerts(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        session.add_all(_alert(*key) for key in CASES)
        session.flush()
        found = set(session.scalars(select(Alert.rule_id).where(Alert.opens_case)))
        flags = {r: o for r, o in session.execute(select(Alert.rule_id, Alert.opens_case))}
    assert found == {rule_id for (rule_id, _, _), opens in CASES.items() if opens}
    assert flags == {rule_id: opens for (rule_id, _, _), opens in CASES.items()}
    assert {type(opens) for opens in flags.values()} == {bool}  # not SQLite's 0 and 1
