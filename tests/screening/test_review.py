"""A KYC submission is screened from the log; its hit becomes a case in the screening queue;
a reviewer decides it with a note, audited; roles without the permission are refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from screening_store_fakes import (
    ANALYST,
    PETROV,
    T0,
    ftm_file,
    hits,
    kyc,
    load,
    log,
    p2p,
    sessions_of,
)
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Permission, Principal, Role
from riskops.cases.models import AlertSource, Case, CaseAlert
from riskops.cases.tasks import drain
from riskops.events.schemas import KycDecided
from riskops.kernel import outbox
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from riskops.screening import service, tasks
from riskops.screening.models import Cursor, HitStatus
from riskops.screening.schemas import HIT_RAISED


@pytest.fixture
def listed(engine: Engine, tmp_path: Path) -> Engine:
    load(engine, ftm_file(tmp_path / "list.jsonl", [PETROV]))
    return engine


def follow(engine: Engine) -> tasks.Progress:
    return tasks.follow(sessions_of(engine), cache=service.ScreenerCache())


def pending(engine: Engine) -> int:
    with sessions_of(engine)() as session:
        return outbox.pending(session, HIT_RAISED)


def review(engine: Engine, hit_id: int, decision: str, note: str, who: Principal = ANALYST):
    with unit_of_work(sessions_of(engine)) as session:
        return service.review(session, who, hit_id, decision, note, now=T0)


def test_a_kyc_submission_is_screened_and_its_hit_is_a_case(listed: Engine) -> None:
    engine = listed
    log(
        engine,
        kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1), nationality="RU"),
        kyc("acc-2", "Anna Schmidt", dob=date(1990, 1, 1), nationality="DE"),
    )
    progress = follow(engine)
    assert (progress.events, progress.screened, progress.hits) == (2, 2, 1)
    [hit] = hits(engine)
    assert (hit.account_id, hit.entry_id, hit.status) == ("acc-1", "p-1", HitStatus.OPEN)
    assert hit.matched_name == "Viktor Ivanovich Petrov" and hit.reasons
    assert hit.entry["birth_dates"] == ["1960-05-01"] and hit.entry["kind"] == "person"
    assert pending(engine) == 1
    assert drain(sessions_of(engine)) == 1
    assert pending(engine) == 0
    with sessions_of(engine)() as session:
        alert = session.scalars(select(CaseAlert)).one()
        case = session.get(Case, alert.case_id)
    assert case is not None and case.queue_key == "screening" and case.account_id == "acc-1"
    assert alert.source is AlertSource.SCREENING and alert.source_ref == f"hit:{hit.id}"
    assert alert.detail["hit_id"] == hit.id and alert.detail["entry_id"] == "p-1"
    assert alert.detail["matched_name"] == "Viktor Ivanovich Petrov"
    assert alert.detail["reasons"] == hit.reasons and alert.reason
    assert "Viktor Petrov" in alert.title and alert.severity == round(hit.score * 100)
    assert alert.occurred_at == T0  # when the KYC was submitted, not when it was screened
    assert follow(engine).events == 0  # the cursor moved: nothing is read twice


def test_a_replayed_log_raises_nothing_again(listed: Engine) -> None:
    engine = listed
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    follow(engine)
    with unit_of_work(sessions_of(engine)) as session:  # the cursor lost: read it all again
        session.execute(delete(Cursor))
    assert follow(engine).hits == 0
    assert len(hits(engine)) == 1 and pending(engine) == 1


def test_an_unchanged_kyc_decision_is_not_screened_again(listed: Engine) -> None:
    engine = listed
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    follow(engine)
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1), kind=KycDecided))
    progress = follow(engine)
    assert (progress.events, progress.screened, progress.hits) == (1, 0, 0)


def test_p2p_counterparty_names_are_screened(listed: Engine) -> None:
    engine = listed
    log(engine, p2p("acc-7", "acc-9", "PETROV Viktor"), p2p("acc-7", "acc-9", "PETROV Viktor"))
    progress = follow(engine)
    assert (progress.screened, progress.hits) == (1, 1)
    [hit] = hits(engine)
    assert (hit.account_id, hit.subject_name) == ("acc-7", "PETROV Viktor")


def test_a_reviewer_decides_with_a_note_once_and_is_audited(listed: Engine) -> None:
    engine = listed
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    follow(engine)
    [hit] = hits(engine)
    with pytest.raises(ValidationFailed, match="note"):
        review(engine, hit.id, "not_a_match", "   ")
    with pytest.raises(ValidationFailed, match="decision"):
        review(engine, hit.id, "maybe", "looked")
    with pytest.raises(NotFound):
        review(engine, hit.id + 100, "match", "looked")
    decided = review(engine, hit.id, "not_a_match", "DOB and passport differ")
    assert decided.status is HitStatus.NOT_A_MATCH and decided.decided_by == "ana"
    with pytest.raises(Conflict, match="already decided"):
        review(engine, hit.id, "match", "second thoughts")
    [stored] = hits(engine)
    assert (stored.status, stored.note, stored.decided_at) == (
        HitStatus.NOT_A_MATCH,
        "DOB and passport differ",
        T0,
    )
    with sessions_of(engine)() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "screening.review")
        ).one()
    who_what = (entry.actor, entry.subject_type, entry.subject_id)
    assert who_what == ("ana", "screening_hit", str(hit.id))
    assert entry.detail["decision"] == "not_a_match" and entry.detail["account_id"] == "acc-1"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.RULE_AUTHOR])
def test_roles_without_screening_review_are_refused(listed: Engine, role: Role) -> None:
    engine = listed
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    follow(engine)
    [hit] = hits(engine)
    who = Principal.for_user(5, "x", role)
    with pytest.raises(Forbidden, match="screening:review"):
        review(engine, hit.id, "match", "it is him", who)
    with pytest.raises(Forbidden), sessions_of(engine)() as session:
        service.review_queue(session, who)
    assert hits(engine)[0].status is HitStatus.OPEN
    for allowed in (Role.SENIOR_ANALYST, Role.COMPLIANCE, Role.MANAGER):
        assert Principal.for_user(6, "y", allowed).can(Permission.SCREENING_REVIEW)


def test_reads_of_hits_are_audited_per_account(listed: Engine) -> None:
    engine = listed
    log(
        engine,
        kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)),
        p2p("acc-2", "acc-1", "Viktor Petrov"),
    )
    follow(engine)
    with unit_of_work(sessions_of(engine)) as session:
        mine = service.hits_for_account(session, ANALYST, "acc-1")
        queue = service.review_queue(session, ANALYST)
        nobody = service.hits_for_account(session, ANALYST, "acc-3")
        named = service.hits_by_ids(session, ANALYST, [h.id for h in queue] + [999])
    assert [h.account_id for h in mine] == ["acc-1"] and nobody == []
    assert sorted(h.id for h in named) == sorted(h.id for h in queue)
    assert sorted(h.account_id for h in queue) == ["acc-1", "acc-2"]
    with sessions_of(engine)() as session:
        seen = session.execute(
            select(AuditEntry.subject_id).where(AuditEntry.action == "screening_hit.list")
        )
        assert sorted(r[0] for r in seen) == ["acc-1", "acc-1", "acc-1", "acc-2", "acc-2"]
