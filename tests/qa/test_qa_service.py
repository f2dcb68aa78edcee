"""Sampling passes, the second review and the agreement figures, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from qa_fakes import T0, closed_case, user
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.cases.models import CaseEvent, CaseOutcome, Note
from riskops.kernel.db import session_factory
from riskops.kernel.errors import Conflict, Forbidden, ValidationFailed
from riskops.qa import repository, service
from riskops.qa.domain import draw
from riskops.qa.models import SampleStatus
from riskops.qa.schemas import OutcomeRate, PlanIn, ReviewIn

LATER = T0 + timedelta(hours=1)
SYSTEM = Principal.system("tests")


def plan(session: Session, **rates: object) -> int:
    body = PlanIn(**{"base_rate": 0.0, "seed": "fixed", **rates})  # type: ignore[arg-type]
    return service.save_plan(session, SYSTEM, body, now=T0 - timedelta(days=1)).id


@pytest.fixture
def session(engine: Engine) -> Session:
    with session_factory(engine)() as s:
        yield s  # type: ignore[misc]


def test_rates_of_zero_and_one_are_exact_and_a_case_is_sampled_once(session: Session) -> None:
    user(session, "ana", Role.ANALYST, created_at=T0 - timedelta(days=400))
    plan(session, base_rate=0.0, outcome_rates=[OutcomeRate(CaseOutcome.OFFBOARDED, 1.0)])
    offboarded = [closed_case(session, outcome=CaseOutcome.OFFBOARDED) for _ in range(20)]
    dismissed = [closed_case(session, outcome=CaseOutcome.DISMISSED) for _ in range(20)]
    done = service.sample_pass(session, SYSTEM, now=LATER)
    assert (done.read, done.sampled) == (40, 20)
    samples, total = service.waiting(session, SYSTEM, limit=100)
    assert total == 20
    assert {s.case_id for s in samples} == {c.id for c in offboarded}
    assert not {s.case_id for s in samples} & {c.id for c in dismissed}
    assert all(s.why == ["outcome:offboarded"] and s.analyst == "ana" for s in samples)
    # a second pass reads nothing new; a case closed again after a reopen is not drawn twice
    assert service.sample_pass(session, SYSTEM, now=LATER).read == 0
    offboarded[0].closed_at = LATER + timedelta(minutes=1)
    session.flush()
    again = service.sample_pass(session, SYSTEM, now=LATER + timedelta(minutes=5))
    assert (again.read, again.sampled) == (1, 0)


def test_cases_closed_within_the_settle_time_wait_for_the_next_pass(session: Session) -> None:
    plan(session, base_rate=1.0)
    closed_case(session, closed_at=LATER - timedelta(seconds=10))
    assert service.sample_pass(session, SYSTEM, now=LATER).read == 0
    assert service.sample_pass(session, SYSTEM, now=LATER + timedelta(minutes=2)).sampled == 1


def test_no_plan_samples_nothing(session: Session) -> None:
    closed_case(session)
    assert service.sample_pass(session, SYSTEM, now=LATER).plan_version is None
    assert service.waiting(session, SYSTEM)[1] == 0


def test_sampling_follows_the_draw_and_respects_the_rate(session: Session) -> None:
    """Which cases are drawn is exactly those whose draw is below the rate; the count is
    within 4 standard deviations of the binomial mean."""
    user(session, "old", Role.ANALYST, created_at=T0 - timedelta(days=400))
    user(session, "new", Role.ANALYST, created_at=T0 - timedelta(days=10))
    plan_id = plan(session, base_rate=0.1, new_analyst_rate=0.5, new_analyst_days=90)
    n = 300
    old = [closed_case(session, analyst="old", rules=()) for _ in range(n)]
    new = [closed_case(session, analyst="new", rules=()) for _ in range(n)]
    service.sample_all(session, SYSTEM, now=LATER)
    drawn = {s.case_id for s in service.waiting(session, SYSTEM, limit=500)[0]}
    drawn |= {s.case_id for s in service.waiting(session, SYSTEM, limit=500, offset=500)[0]}
    for cases, rate in ((old, 0.1), (new, 0.5)):
        expected = {c.id for c in cases if draw("fixed", plan_id, c.id) < rate}
        assert {c.id for c in cases} & drawn == expected
        assert abs(len(expected) - n * rate) <= 4 * math.sqrt(n * rate * (1 - rate))


def _sampled(session: Session, **case: object) -> int:
    plan(session, base_rate=1.0)
    closed_case(session, **case)  # type: ignore[arg-type]
    service.sample_pass(session, SYSTEM, now=LATER)
    return service.waiting(session, SYSTEM)[0][0].id


def test_the_decider_and_the_approver_cannot_review(session: Session) -> None:
    sen = user(session, "sen", Role.SENIOR_ANALYST)
    comp = user(session, "comp", Role.COMPLIANCE)
    sample_id = _sampled(session, analyst="sen", approver="comp")
    for who in (sen, comp):
        with pytest.raises(Forbidden, match="four-eyes"):
            service.review(session, who, sample_id, ReviewIn("agree"), now=LATER)
        with pytest.raises(Forbidden, match="four-eyes"):
            service.take(session, who, sample_id, now=LATER)


def test_an_analyst_may_not_review_and_a_reviewer_may_not_plan(session: Session) -> None:
    ana = user(session, "ana", Role.ANALYST)
    sen = user(session, "sen", Role.SENIOR_ANALYST)
    sample_id = _sampled(session, analyst="other")
    with pytest.raises(Forbidden, match="qa:review"):
        service.review(session, ana, sample_id, ReviewIn("agree"), now=LATER)
    with pytest.raises(Forbidden, match="qa:manage"):
        service.save_plan(session, sen, PlanIn(base_rate=0.5), now=LATER)
    with pytest.raises(Forbidden, match="qa:manage"):
        service.sample_pass(session, sen, now=LATER)


def test_a_disagreement_opens_a_discussion_on_the_case(session: Session) -> None:
    ana = user(session, "ana", Role.ANALYST)
    sen = user(session, "sen", Role.SENIOR_ANALYST)
    sample_id = _sampled(session, analyst="ana")
    with pytest.raises(ValidationFailed) as refused:
        service.review(session, sen, sample_id, ReviewIn("disagree"), now=LATER)
    assert refused.value.details == [{"field": "$.reason", "reason": "required when you disagree"}]
    body = ReviewIn("disagree", CaseOutcome.RESTRICTED, "the pattern is a mule's")
    done = service.review(session, sen, sample_id, body, now=LATER)
    assert (done.status, done.reviewer, done.reviewer_outcome) == (
        SampleStatus.REVIEWED,
        "sen",
        "restricted",
    )
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == done.case_id)).all()
    assert [(e.kind, e.actor, e.reason) for e in events] == [
        ("qa_disagreed", "sen", "the pattern is a mule's")
    ]
    notes = session.scalars(select(Note).where(Note.author == "sen")).all()
    assert len(notes) == 1 and notes[0].sections["findings"] == "the pattern is a mule's"
    assert [s.id for s in service.my_disagreements(session, ana)] == [sample_id]
    assert service.my_disagreements(session, sen) == []
    session.flush()
    audit = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "sen")).all()
    assert "qa.disagree" in audit
    with pytest.raises(Conflict):
        service.review(session, sen, sample_id, ReviewIn("agree"), now=LATER)
    service.acknowledge(session, ana, sample_id, now=LATER)
    assert service.my_disagreements(session, ana) == []


def test_a_taken_sample_is_the_takers_to_review(session: Session) -> None:
    sen = user(session, "sen", Role.SENIOR_ANALYST)
    sen2 = user(session, "sen2", Role.SENIOR_ANALYST)
    sample_id = _sampled(session, analyst="ana")
    service.take(session, sen, sample_id, now=LATER)
    with pytest.raises(ValidationFailed, match="keeps the case's outcome"):
        body = ReviewIn("agree", CaseOutcome.OFFBOARDED)
        service.review(session, sen, sample_id, body, now=LATER)
    with pytest.raises(Conflict, match="taken by sen"):
        service.review(session, sen2, sample_id, ReviewIn("agree"), now=LATER)
    assert service.review(session, sen, sample_id, ReviewIn("agree"), now=LATER).verdict == "agree"


def test_agreement_per_analyst_and_per_rule(session: Session) -> None:
    user(session, "ana", Role.ANALYST)
    sen = user(session, "sen", Role.SENIOR_ANALYST)
    plan(session, base_rate=1.0)
    D, R = CaseOutcome.DISMISSED, CaseOutcome.RESTRICTED
    # ana: 6 reviews, 4 agreed. Pairs (case, reviewer): d/d x3, r/r x1, d/r x2
    # p_o = 4/6; ana d 5 r 1, reviewer d 3 r 3: p_e = (15 + 3) / 36 = 0.5; kappa 1/3
    for outcome, rules in ((D, ("R-1",)), (D, ("R-1",)), (D, ("R-2",)), (R, ("R-1", "R-2"))):
        closed_case(session, analyst="ana", outcome=outcome, rules=rules)
    closed_case(session, analyst="ana", outcome=D, rules=("R-1",))
    closed_case(session, analyst="ana", outcome=D, rules=("R-2",))
    closed_case(session, analyst="bob", outcome=D, rules=("R-1",))
    service.sample_pass(session, SYSTEM, now=LATER)
    samples = service.waiting(session, SYSTEM)[0]
    verdicts = ["agree"] * 4 + ["disagree", "disagree", "agree"]
    for sample, verdict in zip(samples, verdicts, strict=True):
        outcome = R if verdict == "disagree" else None
        body = ReviewIn(verdict, outcome, "no" if verdict == "disagree" else "")  # type: ignore[arg-type]
        service.review(session, sen, sample.id, body, now=LATER + timedelta(minutes=1))
    rows = {
        r.key: r
        for r in repository.agreement(session, T0, LATER + timedelta(hours=1), by="analyst")
    }
    assert (rows["ana"].reviewed, rows["ana"].agreed, rows["ana"].disagreed) == (6, 4, 2)
    assert rows["ana"].agreement_rate == pytest.approx(4 / 6)
    assert rows["ana"].kappa == pytest.approx(1 / 3)
    assert (rows["bob"].reviewed, rows["bob"].kappa) == (1, None)
    assert rows["bob"].kappa_undefined == "fewer than 5 reviews"
    by_rule = {
        r.key: r for r in repository.agreement(session, T0, LATER + timedelta(hours=1), by="rule")
    }
    # cases 1, 2, 4, 5 (ana, 5 disagreed) and bob's; R-2: cases 3, 4, 6 (6 disagreed)
    assert (by_rule["R-1"].reviewed, by_rule["R-1"].agreed) == (5, 4)
    assert (by_rule["R-2"].reviewed, by_rule["R-2"].agreed) == (3, 2)
    # outside the period: nothing
    assert (
        repository.agreement(
            session, LATER + timedelta(hours=1), LATER + timedelta(hours=2), by="rule"
        )
        == []
    )
