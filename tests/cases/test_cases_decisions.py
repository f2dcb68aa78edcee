"""Decisions: notes, actions on the account and holds (through the monitor), four-eyes,
waiting for the customer, escalation, reopening, amendments, role refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from case_fakes import T0, alert, at, users
from monitor_fakes import FakeEvaluator, records, trade, withdrawal
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.auth.permissions import Principal
from riskops.cases import alert_intake, decisions, lifecycle, service
from riskops.cases.models import ActionKind, ActionStatus, Case, CaseOutcome, CaseStatus
from riskops.cases.schemas import DecisionIn, NoteSections
from riskops.kernel.clock import utcnow
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, ValidationFailed
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.monitor.models import Hold, HoldStatus
from riskops.rules.types import Action

NOTE = NoteSections(
    summary="ATO pattern",
    evidence="logins, devices",
    findings="new device then withdrawal",
    decision="lock withdrawals",
    rationale="protect the customer",
)


def decision(action: ActionKind, **params: Any) -> DecisionIn:
    return DecisionIn(action=action, note=params.pop("note", NOTE), **params)


def taken_case(session: Session, user: Principal, ref: str = "r1", account: str = "a") -> Case:
    alert_intake.raise_alert(session, alert(ref, account=account), now=T0)
    case = service.take_next(session, user, now=T0)
    assert case is not None
    return case


def monitor_decides(session: Session, events: list, start: int) -> list:
    kinds = accounts.active_kinds(session)
    mon = Monitor(FakeEvaluator(), lambda account: kinds.get(account, set()))
    result = monitor.process_batch(
        session, mon, records(events, start), keep={e.event_id for e in events}
    )
    alert_intake.drain_outbox(session)  # its case alerts become cases, in this transaction here
    return result.decisions


def test_every_note_section_is_required_with_field_details(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        empty = NoteSections(summary="s", evidence=" ", findings="", decision="d", rationale="")
        with pytest.raises(ValidationFailed) as exc:
            decisions.decide(session, u["ana"], case.id, decision(ActionKind.DISMISS, note=empty))
        fields = {d["field"] for d in exc.value.details}
        assert fields == {"$.note.evidence", "$.note.findings", "$.note.rationale", "$.reason_code"}


def test_dismiss_closes_with_a_reason_code(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        result = decisions.decide(
            session, u["ana"], case.id, decision(ActionKind.DISMISS, reason_code="false_positive")
        )
        assert result.action.note_id == result.note.id
    with sessions() as session:
        stored = session.get(Case, case.id)
        assert stored is not None
        assert (stored.status, stored.outcome, stored.reason_code) == (
            CaseStatus.CLOSED,
            CaseOutcome.DISMISSED,
            "false_positive",
        )
        detail = service.case_detail(session, u["ana"], case.id)
        assert [e.kind for e in detail.events] == [
            "opened",
            "assigned",
            "start_review",
            "decided",
            "closed",
        ]
        assert detail.notes[0].note.sections["decision"] == "lock withdrawals"


def test_restrict_blocks_the_next_withdrawal_and_lift_reverses_it(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        result = decisions.decide(
            session,
            u["ana"],
            case.id,
            decision(ActionKind.RESTRICT, restriction=RestrictionKind.WITHDRAWAL_LOCK),
        )
        [restriction_id] = result.action.result["restriction_ids"]
        assert result.case.outcome is CaseOutcome.RESTRICTED
    with unit_of_work(sessions) as session:
        [blocked] = monitor_decides(session, [withdrawal("w1", "a", "5.00")], 1)
        [traded] = monitor_decides(session, [trade("t1", "a")], 2)
        assert blocked.outcome is Action.BLOCK
        assert blocked.restricted is RestrictionKind.WITHDRAWAL_LOCK
        assert traded.outcome is Action.ALLOW
    # an appeal: the case is reopened and the restriction lifted
    with unit_of_work(sessions) as session:
        reopened = lifecycle.reopen(session, u["sen"], case.id, "customer appeal")
        # back to review with the analyst who closed it
        assert (reopened.status, reopened.assignee_id) == (CaseStatus.IN_REVIEW, u["ana"].id)
        assert reopened.outcome is None
        decisions.decide(
            session,
            u["ana"],
            case.id,
            decision(ActionKind.LIFT_RESTRICTION, restriction_id=restriction_id),
        )
    with unit_of_work(sessions) as session:
        [allowed] = monitor_decides(session, [withdrawal("w2", "a", "5.00")], 3)
        assert allowed.outcome is Action.ALLOW


def test_release_a_held_withdrawal_from_a_monitor_case(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        monitor_decides(session, [withdrawal("w1", "a", "20000.00")], 1)
        case = service.take_next(session, u["ana"], ["held_withdrawals"])
        assert case is not None
        note = NoteSections(**{**_sections(), "decision": "release: customer confirmed"})
        result = decisions.decide(
            session, u["ana"], case.id, decision(ActionKind.RELEASE_HOLD, note=note)
        )
        assert result.case.status is CaseStatus.CLOSED
        assert result.case.outcome is CaseOutcome.RESOLVED
        [hold] = session.scalars(select(Hold)).all()
        assert (hold.status, hold.note, hold.resolved_by) == (
            HoldStatus.RELEASED,
            "release: customer confirmed",
            "ana",
        )


def test_a_case_with_two_holds_stays_open_until_both_are_resolved(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        monitor_decides(
            session, [withdrawal("w1", "a", "20000.00"), withdrawal("w2", "a", "30000.00")], 1
        )
        case = service.take_next(session, u["ana"])
        assert case is not None and case.alert_count == 2
        with pytest.raises(ValidationFailed) as which:
            decisions.decide(session, u["ana"], case.id, decision(ActionKind.REJECT_HOLD))
        assert which.value.details[0]["field"] == "$.hold_id"
        h1, h2 = session.scalars(select(Hold.id).order_by(Hold.id)).all()
        first = decisions.decide(
            session, u["ana"], case.id, decision(ActionKind.REJECT_HOLD, hold_id=h1)
        )
        assert first.case.status is CaseStatus.IN_REVIEW
        last = decisions.decide(session, u["ana"], case.id, decision(ActionKind.RELEASE_HOLD))
        assert last.action.params["hold_id"] == h2
        assert last.case.status is CaseStatus.CLOSED


def test_four_eyes_full_freeze(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        case = taken_case(session, u["sen"])
        maker = decisions.decide(
            session,
            u["sen"],
            case.id,
            decision(ActionKind.RESTRICT, restrictions=[RestrictionKind.FULL_FREEZE]),
        )
        assert maker.pending_approval
        assert maker.case.status is CaseStatus.WAITING_APPROVAL
        assert accounts.active_kinds(session) == {}  # nothing happens to the account yet
        action_id = maker.action.id
        with pytest.raises(Forbidden):
            decisions.approve(session, u["sen"], action_id, "self")  # the maker
        with pytest.raises(Forbidden):
            decisions.approve(session, u["ana"], action_id, "ok")  # an analyst cannot approve
        assert [a.id for a in decisions.list_approvals(session, u["sen2"])] == [action_id]
    with unit_of_work(sessions) as session:
        done = decisions.approve(session, u["sen2"], action_id, "agreed")
        assert (done.action.status, done.action.decided_by) == (ActionStatus.DONE, "sen2")
        assert done.case.status is CaseStatus.CLOSED
        assert done.case.outcome is CaseOutcome.RESTRICTED
    with unit_of_work(sessions) as session:
        assert accounts.active_kinds(session) == {"a": {RestrictionKind.FULL_FREEZE}}
        [blocked] = monitor_decides(session, [trade("t1", "a")], 1)
        assert blocked.outcome is Action.BLOCK
        with pytest.raises(Conflict):
            decisions.approve(session, u["comp"], action_id, "again")


def test_refused_action_goes_back_to_review_and_changes_nothing(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        maker = decisions.decide(session, u["ana"], case.id, decision(ActionKind.OFFBOARD))
        with pytest.raises(ValidationFailed):
            decisions.refuse(session, u["sen"], maker.action.id, " ")
        refused = decisions.refuse(session, u["sen"], maker.action.id, "not enough evidence")
        assert refused.action.status is ActionStatus.REFUSED
        assert refused.case.status is CaseStatus.IN_REVIEW
        assert accounts.active_kinds(session) == {}


def test_compliance_approves_a_sar_referral_and_offboarding_blocks_everything(
    engine: Engine,
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        maker = decisions.decide(session, u["ana"], case.id, decision(ActionKind.REFER_SAR))
        with pytest.raises(Forbidden):
            decisions.decide(session, u["comp"], case.id, decision(ActionKind.DISMISS))
        done = decisions.approve(session, u["comp"], maker.action.id, "filing")
        assert done.case.outcome is CaseOutcome.SAR_REFERRED
        other = taken_case(session, u["ana"], "r2", "b")
        off = decisions.decide(session, u["ana"], other.id, decision(ActionKind.OFFBOARD))
        decisions.approve(session, u["comp"], off.action.id)
        assert accounts.active_kinds(session) == {"b": {RestrictionKind.ACCOUNT_CLOSED}}


def test_require_rekyc_blocks_withdrawals(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        decisions.decide(session, u["ana"], case.id, decision(ActionKind.REQUIRE_REKYC))
        [blocked] = monitor_decides(session, [withdrawal("w1", "a", "5.00")], 1)
        assert blocked.restricted is RestrictionKind.REKYC_REQUIRED


def test_request_info_pauses_the_sla_and_the_reply_resumes_it(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        due = case.due_at
        now = utcnow()
        with pytest.raises(ValidationFailed):
            decisions.decide(session, u["ana"], case.id, decision(ActionKind.REQUEST_INFO))
        waiting = decisions.decide(
            session,
            u["ana"],
            case.id,
            decision(ActionKind.REQUEST_INFO, due_at=now + timedelta(days=3)),
            now=now,
        ).case
        assert waiting.status is CaseStatus.WAITING_CUSTOMER
        assert waiting.sla_paused_at == now
        replied = lifecycle.customer_replied(
            session, Principal.system("intake"), case.id, "here it is", now=now + timedelta(hours=5)
        )
        assert replied.status is CaseStatus.IN_REVIEW
        assert replied.due_at == due + timedelta(hours=5)
        assert replied.sla_paused_at is None


def test_sweep_reopens_waits_past_their_due_date(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        now = utcnow()
        decisions.decide(
            session,
            u["ana"],
            case.id,
            decision(ActionKind.REQUEST_INFO, due_at=now + timedelta(hours=1)),
            now=now,
        )
        assert lifecycle.sweep(session, now + timedelta(minutes=59)) == {"waits_expired": 0}
        assert lifecycle.sweep(session, now + timedelta(hours=2)) == {"waits_expired": 1}
        stored = session.get(Case, case.id)
        assert stored is not None and stored.status is CaseStatus.IN_REVIEW


def test_escalate_moves_to_the_escalation_queue_unassigned(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        result = decisions.decide(session, u["ana"], case.id, decision(ActionKind.ESCALATE))
        assert (result.case.queue_key, result.case.status, result.case.assignee_id) == (
            "escalations",
            CaseStatus.NEW,
            None,
        )
        senior_case = service.take_next(session, u["sen"], ["escalations"])
        assert senior_case is not None and senior_case.id == case.id


def test_notes_are_amended_never_edited_and_only_the_assignee_decides(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        with pytest.raises(Forbidden):
            decisions.decide(
                session, u["sen"], case.id, decision(ActionKind.DISMISS, reason_code="other")
            )
        result = decisions.decide(
            session, u["ana"], case.id, decision(ActionKind.DISMISS, reason_code="duplicate")
        )
        lifecycle.amend_note(session, u["ana"], result.note.id, "also checked the IP")
        with pytest.raises(ValidationFailed):
            lifecycle.amend_note(session, u["ana"], result.note.id, "")
        detail = service.case_detail(session, u["ana"], case.id)
        [view] = detail.notes
        assert view.note.sections == _sections()
        assert [a.text for a in view.amendments] == ["also checked the IP"]
        assert not hasattr(lifecycle, "update_note") and not hasattr(decisions, "update_note")
        with pytest.raises(Forbidden):
            lifecycle.reopen(session, u["ana"], case.id, "analysts cannot reopen")
        with pytest.raises(Conflict):
            decisions.decide(
                session, u["ana"], case.id, decision(ActionKind.DISMISS, reason_code="other")
            )


def test_reopen_refuses_when_the_account_has_another_open_case(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        case = taken_case(session, u["ana"])
        decisions.decide(
            session, u["ana"], case.id, decision(ActionKind.DISMISS, reason_code="other")
        )
        alert_intake.raise_alert(session, alert("r2", account="a"), now=at(5))
        with pytest.raises(Conflict):
            lifecycle.reopen(session, u["sen"], case.id, "second look")


def _sections() -> dict[str, str]:
    return {
        "summary": NOTE.summary,
        "evidence": NOTE.evidence,
        "findings": NOTE.findings,
        "decision": NOTE.decision,
        "rationale": NOTE.rationale,
    }
