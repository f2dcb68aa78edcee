"""A screening case decided in the case flow decides its hits (cases.review_outcomes): a
dismissal as a false positive is a remembered "not a match" (a rescreen raises nothing), a
restriction confirms the match, a confirmed match cannot be dismissed, and deciding the hits
needs screening:review, checked by screening's service."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from screening_store_fakes import NADIA, PETROV, T0, ftm_file, hits, kyc, load, log, sessions_of
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts.models import RestrictionKind
from riskops.audit.models import AuditEntry
from riskops.auth.models import User
from riskops.auth.permissions import Permission, Principal, Role
from riskops.cases import decisions
from riskops.cases import service as cases
from riskops.cases.models import ActionKind, Case, CaseOutcome
from riskops.cases.review_outcomes import hit_decision
from riskops.cases.schemas import DecisionIn, NoteSections
from riskops.cases.tasks import drain
from riskops.kernel import outbox
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Conflict, Forbidden
from riskops.screening import service, tasks
from riskops.screening.models import HitStatus
from riskops.screening.schemas import HIT_RAISED

NOTE = NoteSections(
    summary="screening hit",
    evidence="passport, date of birth",
    findings="born 1988 in Kazan, not the listed person",
    decision="not the listed party",
    rationale="birth date and passport differ",
)


def user(session: Session, name: str, role: Role) -> Principal:
    row = User(username=name, display_name=name, role=role, password_hash="x", created_at=T0)
    session.add(row)
    session.flush()
    return Principal.for_user(row.id, name, role)


def screened_case(engine: Engine, tmp_path: Path, cache: service.ScreenerCache) -> None:
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV, NADIA]))
    log(
        engine,
        kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1), nationality="RU"),
        kyc("acc-2", "Nadia Karimova", dob=date(1975, 2, 11), nationality="UZ"),
    )
    tasks.follow(sessions_of(engine), cache=cache)
    drain(sessions_of(engine))


def take(session: Session, who: Principal, account: str) -> Case:
    case = session.scalars(select(Case).where(Case.account_id == account)).one()
    cases.assign(session, who, case.id, who.id, now=T0)
    return case


def test_the_case_outcome_maps_to_a_hit_decision() -> None:
    assert hit_decision(CaseOutcome.DISMISSED, "false_positive") == "not_a_match"
    assert hit_decision(CaseOutcome.DISMISSED, "verified_by_customer") == "not_a_match"
    assert hit_decision(CaseOutcome.DISMISSED, "duplicate") is None
    assert hit_decision(CaseOutcome.RESTRICTED, None) == "match"
    assert hit_decision(CaseOutcome.OFFBOARDED, None) == "match"
    assert hit_decision(CaseOutcome.SAR_REFERRED, None) == "match"
    assert hit_decision(CaseOutcome.RESOLVED, None) is None


def test_a_dismissed_case_is_a_remembered_not_a_match_and_a_restricted_one_a_match(
    engine: Engine, tmp_path: Path
) -> None:
    cache = service.ScreenerCache()
    screened_case(engine, tmp_path, cache)
    sessions = sessions_of(engine)
    with unit_of_work(sessions) as session:
        ana = user(session, "ana", Role.ANALYST)
        first = take(session, ana, "acc-1")
        dismiss = DecisionIn(action=ActionKind.DISMISS, reason_code="false_positive", note=NOTE)
        decisions.decide(session, ana, first.id, dismiss, now=T0)
        second = take(session, ana, "acc-2")
        restrict = DecisionIn(
            action=ActionKind.RESTRICT, restriction=RestrictionKind.WITHDRAWAL_LOCK, note=NOTE
        )
        decisions.decide(session, ana, second.id, restrict, now=T0)
    by_account = {h.account_id: h for h in hits(engine)}
    assert by_account["acc-1"].status is HitStatus.NOT_A_MATCH
    assert by_account["acc-1"].decided_by == "ana"
    assert by_account["acc-1"].note == NOTE.decision
    assert by_account["acc-2"].status is HitStatus.CONFIRMED
    with sessions() as session:
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "screening.review")
        ).all()
        assert sorted(e.detail["by_case"] for e in audited) == sorted([first.id, second.id])
        assert outbox.pending(session, HIT_RAISED) == 0

    # a new version of the list, the same entries: the rescreen raises nothing, the true
    # match stays a match
    load(engine, ftm_file(tmp_path / "v2.jsonl", [NADIA, PETROV]))
    progress = tasks.rescreen(sessions, cache=cache)
    assert (progress.screened, progress.hits) == (2, 0)
    with sessions() as session:
        assert outbox.pending(session, HIT_RAISED) == 0
    assert {h.account_id: h.status for h in hits(engine)} == {
        "acc-1": HitStatus.NOT_A_MATCH,
        "acc-2": HitStatus.CONFIRMED,
    }


def test_a_confirmed_match_cannot_be_dismissed_with_its_case(
    engine: Engine, tmp_path: Path
) -> None:
    screened_case(engine, tmp_path, service.ScreenerCache())
    sessions = sessions_of(engine)
    hit = next(h for h in hits(engine) if h.account_id == "acc-2")
    with unit_of_work(sessions) as session:
        ana = user(session, "ana", Role.ANALYST)
        service.review(session, ana, hit.id, "match", "same passport", now=T0)
        case = take(session, ana, "acc-2")
        case_id = case.id
    with pytest.raises(Conflict), unit_of_work(sessions) as session:
        ana = Principal.for_user(1, "ana", Role.ANALYST)
        dismiss = DecisionIn(action=ActionKind.DISMISS, reason_code="false_positive", note=NOTE)
        decisions.decide(session, ana, case_id, dismiss, now=T0)
    with sessions() as session:
        assert session.get(Case, case_id).outcome is None  # nothing of the decision stayed
    assert next(h for h in hits(engine) if h.id == hit.id).status is HitStatus.CONFIRMED


def test_deciding_the_hits_needs_screening_review(engine: Engine, tmp_path: Path) -> None:
    screened_case(engine, tmp_path, service.ScreenerCache())
    hit = hits(engine)[0]
    worker = Principal.for_user(9, "no-screening", Role.ANALYST)
    worker = Principal(
        worker.kind,
        worker.id,
        worker.name,
        worker.role,
        worker.permissions - {Permission.SCREENING_REVIEW},
    )
    with pytest.raises(Forbidden), unit_of_work(sessions_of(engine)) as session:
        service.decide_by_case(session, worker, [hit.id], "not_a_match", "n", case_id=1, now=T0)
    assert hits(engine)[0].status is HitStatus.OPEN
