"""Four-eyes on case decisions, check by check: which actions wait for a second person,
who may approve or refuse, and what each records (maker, approver, when, why)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from case_fakes import T0
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from test_cases_decisions import decision, taken_case, users

from riskops.accounts import service as accounts
from riskops.accounts.models import Restriction
from riskops.accounts.models import RestrictionKind as K
from riskops.audit.models import AuditEntry
from riskops.cases import decisions
from riskops.cases.models import ActionKind as A
from riskops.cases.models import ActionStatus, CaseEvent, CaseStatus
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed

# Who must approve what, as ADR 0008 says: a SAR referral, a full freeze and offboarding.
NEEDS_SECOND_PERSON = {A.REFER_SAR, A.OFFBOARD}


@pytest.mark.parametrize("kind", list(A))
def test_which_actions_wait_for_a_second_person(kind: A) -> None:
    assert decisions.needs_approval(kind, {}) is (kind in NEEDS_SECOND_PERSON)


@pytest.mark.parametrize("kind", list(K))
def test_a_restrict_action_waits_only_for_a_full_freeze_or_closing(kind: K) -> None:
    two = kind in (K.FULL_FREEZE, K.ACCOUNT_CLOSED)
    assert decisions.needs_approval(A.RESTRICT, {"restrictions": [kind.value]}) is two
    # One kind that needs two people in a list makes the whole action wait.
    mixed = {"restrictions": [K.WITHDRAWAL_LOCK.value, kind.value]}
    assert decisions.needs_approval(A.RESTRICT, mixed) is two
    assert decisions.restriction_kinds(A.RESTRICT, mixed) == [K.WITHDRAWAL_LOCK, kind]


def test_the_restrictions_each_action_imposes() -> None:
    assert decisions.restriction_kinds(A.RESTRICT, {}) == []
    assert decisions.restriction_kinds(A.REQUIRE_REKYC, {}) == [K.REKYC_REQUIRED]
    assert decisions.restriction_kinds(A.OFFBOARD, {}) == [K.ACCOUNT_CLOSED]
    others = set(A) - {A.RESTRICT, A.REQUIRE_REKYC, A.OFFBOARD}
    assert all(
        decisions.restriction_kinds(k, {"restrictions": ["full_freeze"]}) == [] for k in others
    )


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.flush()  # the entry is added last, after the service's own flush
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _events(session: Session, case_id: int, kind: str) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
    return list(session.scalars(query))


def test_approval_records_maker_approver_time_and_comment(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["sen"])
        freeze = decision(A.RESTRICT, restrictions=[K.FULL_FREEZE])
        maker = decisions.decide(session, u["sen"], case.id, freeze, now=T0)
        later = T0 + timedelta(minutes=5)
        done = decisions.approve(session, u["sen2"], maker.action.id, "  agreed  ", now=later)
        action = done.action
        assert action.status is ActionStatus.DONE
        assert (action.requested_by, action.decided_by) == ("sen", "sen2")
        assert action.decided_at == later
        assert action.decision_comment == "agreed"
        [approved] = _events(session, case.id, "approved")
        assert approved.actor == "sen2" and approved.at == later
        assert approved.detail == {"action_id": action.id, "action": "restrict", "maker": "sen"}
        [entry] = _audit(session, "case.approve")
        assert (entry.actor, entry.subject_type, entry.subject_id) == (
            "sen2",
            "case_action",
            str(action.id),
        )
        assert entry.detail == {"action_id": action.id, "action": "restrict", "maker": "sen"}
        assert accounts.active_kinds(session) == {"a": {K.FULL_FREEZE}}
        # The restriction records the maker as its author and the approver beside it, with
        # the maker's decision and who approved it (issue 9: not the approver as author).
        [freeze_row] = session.scalars(select(Restriction)).all()
        assert (freeze_row.created_by, freeze_row.approved_by) == ("sen", "sen2")
        assert freeze_row.reason == f"case {case.id}: lock withdrawals (approved by sen2)"


def test_an_empty_approval_comment_is_stored_as_none(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        maker = decisions.decide(session, u["ana"], case.id, decision(A.REFER_SAR))
        done = decisions.approve(session, u["comp"], maker.action.id, "   ")
        assert done.action.decision_comment is None


def test_refusal_records_the_approver_and_the_reason(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        maker = decisions.decide(session, u["ana"], case.id, decision(A.OFFBOARD), now=T0)
        later = T0 + timedelta(minutes=3)
        refused = decisions.refuse(session, u["sen"], maker.action.id, " thin ", now=later)
        action = refused.action
        assert action.status is ActionStatus.REFUSED
        assert (action.requested_by, action.decided_by, action.decided_at) == (
            "ana",
            "sen",
            later,
        )
        assert action.decision_comment == "thin"
        assert refused.case.status is CaseStatus.IN_REVIEW
        [event] = _events(session, case.id, "refused")
        assert (event.actor, event.reason, event.at) == ("sen", "thin", later)
        assert event.detail == {"action_id": action.id, "action": "offboard", "maker": "ana"}
        [entry] = _audit(session, "case.refuse")
        assert (entry.actor, entry.subject_type, entry.subject_id) == (
            "sen",
            "case_action",
            str(action.id),
        )
        assert entry.detail == {"action_id": action.id, "action": "offboard", "maker": "ana"}
        assert accounts.active_kinds(session) == {}


def test_a_refusal_without_a_reason_is_refused_with_the_field(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        maker = decisions.decide(session, u["ana"], case.id, decision(A.OFFBOARD))
        for blank in ("", "  \n"):
            with pytest.raises(ValidationFailed) as err:
                decisions.refuse(session, u["sen"], maker.action.id, blank)
            assert err.value.message == "a refusal needs a reason"
            assert err.value.details == [{"field": "$.comment", "reason": "required"}]
        assert maker.action.status is ActionStatus.PENDING_APPROVAL


def test_the_maker_can_neither_approve_nor_refuse(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["sen"])
        maker = decisions.decide(session, u["sen"], case.id, decision(A.OFFBOARD))
        for attempt in (decisions.approve, decisions.refuse):
            with pytest.raises(Forbidden) as err:
                attempt(session, u["sen"], maker.action.id, "mine")
            assert err.value.message == (
                "four-eyes: the maker of an action cannot approve or refuse it"
            )
        assert maker.action.status is ActionStatus.PENDING_APPROVAL
        assert accounts.active_kinds(session) == {}


def test_only_a_pending_action_can_be_approved_or_refused(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        maker = decisions.decide(session, u["ana"], case.id, decision(A.OFFBOARD))
        decisions.refuse(session, u["sen"], maker.action.id, "no")
        action_id = maker.action.id
        for attempt in (decisions.approve, decisions.refuse):
            with pytest.raises(Conflict, match=f"action {action_id} is refused, not pending"):
                attempt(session, u["comp"], action_id, "late")
            with pytest.raises(NotFound, match="action 987654 not found"):
                attempt(session, u["comp"], 987654, "none")
        assert accounts.active_kinds(session) == {}


def test_an_analyst_can_neither_approve_nor_refuse(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["sen"])
        maker = decisions.decide(session, u["sen"], case.id, decision(A.OFFBOARD))
        for attempt in (decisions.approve, decisions.refuse):
            with pytest.raises(Forbidden):
                attempt(session, u["ana"], maker.action.id, "ok")
        assert maker.action.status is ActionStatus.PENDING_APPROVAL
