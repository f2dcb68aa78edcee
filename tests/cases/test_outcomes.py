"""Labels from case outcomes: restricted/offboarded/SAR referral positive, dismissed as not
suspicious negative, the rest unlabelled; the account and the alerted events get the label;
the pass is idempotent and a case decided again replaces its labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from riskops.cases import outcomes
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, CaseStatus, Queue
from riskops.kernel.db import session_factory, unit_of_work
from riskops.learn import labels
from riskops.learn import repository as learn_repo

T0 = datetime(2026, 2, 1, tzinfo=UTC)
OUT = CaseOutcome


@pytest.mark.parametrize(
    ("outcome", "reason", "label"),
    [
        (OUT.RESTRICTED, None, 1),
        (OUT.OFFBOARDED, None, 1),
        (OUT.SAR_REFERRED, None, 1),
        (OUT.DISMISSED, "false_positive", 0),
        (OUT.DISMISSED, "known_behaviour", 0),
        (OUT.DISMISSED, "duplicate", None),
        (OUT.RESOLVED, None, None),
        (None, None, None),
    ],
)
def test_label_of(outcome: CaseOutcome | None, reason: str | None, label: int | None) -> None:
    assert outcomes.label_of(outcome, reason) == label


def _case(session: object, n: int, outcome: CaseOutcome | None, reason: str | None = None) -> Case:
    closed = outcome is not None
    case = Case(
        account_id=f"acc-{n}",
        queue_key="aml",
        status=CaseStatus.CLOSED if closed else CaseStatus.IN_REVIEW,
        title=f"case {n}",
        severity=50,
        amount_at_risk_usd=Decimal("0"),
        priority=1,
        opened_at=T0,
        due_at=T0 + timedelta(days=1),
        updated_at=T0,
        closed_at=T0 + timedelta(hours=n) if closed else None,
        outcome=outcome,
        reason_code=reason,
    )
    session.add(case)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    for k in range(2):
        session.add(  # type: ignore[attr-defined]
            CaseAlert(
                source=AlertSource.MONITOR,
                source_ref=f"R-1:e{n}-{k}:0",
                case_id=case.id,
                account_id=case.account_id,
                kind="R-1",
                severity=50,
                amount_usd=Decimal("10"),
                title="t",
                detail={"event_id": f"e{n}-{k}", "row": 0},
                occurred_at=T0,
                received_at=T0,
            )
        )
    return case


def test_closed_cases_label_their_account_and_alerted_events(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        s.add(Queue(key="aml", name="AML", sla_minutes=60))
        s.flush()
        _case(s, 1, OUT.RESTRICTED)
        _case(s, 2, OUT.DISMISSED, "false_positive")
        _case(s, 3, OUT.DISMISSED, "duplicate")
        _case(s, 4, None)  # still open
    outcomes.label_pass(sessions, limit=2)  # two pages
    with unit_of_work(sessions) as s:
        got = labels.training_labels(s)
        assert got.accounts == {"acc-1": 1, "acc-2": 0}
        assert got.events == {"e1-0": 1, "e1-1": 1, "e2-0": 0, "e2-1": 0}
        stored = learn_repo.all_labels(s)
        assert {r.source for r in stored} == {"case"}
        assert all(r.by == "system:cases.outcomes" for r in stored)
        assert next(r for r in stored if r.subject_id == "acc-1").decided_at == T0 + timedelta(
            hours=1
        )
    outcomes.label_pass(sessions)  # idempotent
    with unit_of_work(sessions) as s:
        assert len(learn_repo.all_labels(s)) == 6
        done, _ = outcomes.label_outcomes(s)
        assert done["labels"] == 0
        # the dismissed case is reopened and closed again as restricted, later
        case = s.get(Case, 2)
        assert case is not None
        case.outcome, case.reason_code = OUT.RESTRICTED, None
        case.closed_at = T0 + timedelta(days=3)
    outcomes.label_pass(sessions)
    with unit_of_work(sessions) as s:
        got = labels.training_labels(s)
        assert got.accounts["acc-2"] == 1 and got.events["e2-0"] == 1
        assert len(learn_repo.all_labels(s)) == 6
