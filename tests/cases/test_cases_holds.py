"""Holds and cases agree (issue 9, finding 11): a decision resolves each held withdrawal of
its case explicitly or says why one stays held, and a hold resolved outside its case (the
holds page, the API) reaches the case: a history entry, and a close when nothing else waits.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from case_fakes import alert, make_user, users
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitor_fakes import FakeEvaluator, records, withdrawal
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts.models import RestrictionKind
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake, decisions, holds, repository, service
from riskops.cases.models import ActionKind, Case, CaseOutcome, CaseStatus
from riskops.cases.schemas import DecisionIn, HoldChoice, NoteSections
from riskops.cases.tasks import drain
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, ValidationFailed
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.monitor.models import Hold, HoldStatus

A = ActionKind
NOTE = NoteSections(
    summary="ATO pattern",
    evidence="logins, devices",
    findings="new device then withdrawal",
    decision="freeze the account",
    rationale="protect the customer",
)
# Every action that closes the case when it runs (at once, or on approval), with what it needs.
CLOSING: list[tuple[ActionKind, dict[str, Any]]] = [
    (A.DISMISS, {"reason_code": "false_positive"}),
    (A.RESTRICT, {"restrictions": [RestrictionKind.WITHDRAWAL_LOCK]}),
    (A.RESTRICT, {"restrictions": [RestrictionKind.FULL_FREEZE]}),
    (A.REQUIRE_REKYC, {}),
    (A.OFFBOARD, {}),
    (A.REFER_SAR, {}),
]


def decision(action: ActionKind, **params: Any) -> DecisionIn:
    return DecisionIn(action=action, note=params.pop("note", NOTE), **params)


def held_case(session: Session, *usd: str, start: int = 1, account: str = "a") -> list[int]:
    """The monitor holds a withdrawal of each USD value; their case alerts are delivered.
    Returns the hold ids."""
    events = [withdrawal(f"w{start + i}", account, v) for i, v in enumerate(usd)]
    monitor.process_batch(session, Monitor(FakeEvaluator()), records(events, start))
    alert_intake.drain_outbox(session)
    ids = [e.event_id for e in events]
    return list(session.scalars(select(Hold.id).where(Hold.event_id.in_(ids)).order_by(Hold.id)))


def taken(session: Session, who: Principal) -> Case:
    case = service.take_next(session, who)
    assert case is not None
    return case


def hold(session: Session, hold_id: int) -> Hold:
    found = session.get(Hold, hold_id, populate_existing=True)
    assert found is not None
    return found


def kinds(session: Session, case_id: int) -> list[str]:
    return [e.kind for e in repository.events_of(session, case_id)]


def assert_agree(session: Session, case: Case) -> None:
    """The invariant: a closed case has no withdrawal still held unless its history says why."""
    if case.status is not CaseStatus.CLOSED:
        return
    kept = {
        i
        for e in repository.events_of(session, case.id)
        if e.kind == "holds_kept" and e.reason.strip()
        for i in e.detail["hold_ids"]
    }
    assert {h.id for h in holds.pending_holds(session, case)} <= kept


# --- finding 11, reproduced: a full freeze closed the case, its withdrawal stayed held ---


def test_a_full_freeze_cannot_close_a_case_with_its_withdrawal_still_held(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        [hold_id] = held_case(session, "23856.00")
        case = taken(session, u["sen"])
        freeze = {"restrictions": [RestrictionKind.FULL_FREEZE]}
        with pytest.raises(ValidationFailed) as refused:
            decisions.decide(session, u["sen"], case.id, decision(A.RESTRICT, **freeze))
        assert [d["field"] for d in refused.value.details] == ["$.holds_reason"]
        assert f"#{hold_id}" in refused.value.details[0]["reason"]
        choice = [HoldChoice(hold_id=hold_id, resolution="reject")]
        made = decisions.decide(
            session, u["sen"], case.id, decision(A.RESTRICT, **freeze, holds=choice)
        )
        assert made.pending_approval and made.action.params["holds"] == {str(hold_id): "reject"}
        assert hold(session, hold_id).status is HoldStatus.HELD  # nothing happens before approval
        action_id = made.action.id
    with unit_of_work(sessions) as session:
        done = decisions.approve(session, u["sen2"], action_id, "agreed")
        assert (done.case.status, done.case.outcome) == (CaseStatus.CLOSED, CaseOutcome.RESTRICTED)
        rejected = hold(session, hold_id)
        assert (rejected.status, rejected.resolved_by, rejected.approved_by) == (
            HoldStatus.REJECTED,
            "sen",
            "sen2",
        )
        assert done.action.result["holds"] == {str(hold_id): "rejected"}
        assert "hold_rejected" in kinds(session, done.case.id)
        session.flush()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "hold.reject")).one()
        assert (audit.actor, audit.detail["case_id"]) == ("sen", done.case.id)
        assert audit.detail["approved_by"] == "sen2"
        assert_agree(session, done.case)


@pytest.mark.parametrize(("action", "params"), CLOSING, ids=lambda v: str(v))
def test_every_closing_action_resolves_or_explains_every_held_withdrawal(
    engine: Engine, action: ActionKind, params: dict[str, Any]
) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        h1, h2 = held_case(session, "20000.00", "30000.00")
        case = taken(session, u["sen"])
        for partial in ([], [HoldChoice(hold_id=h1, resolution="release")]):
            with pytest.raises(ValidationFailed) as refused:
                decisions.decide(
                    session, u["sen"], case.id, decision(action, **params, holds=partial)
                )
            assert "$.holds_reason" in [d["field"] for d in refused.value.details]
        choices = [
            HoldChoice(hold_id=h1, resolution="release"),
            HoldChoice(hold_id=h2, resolution="reject"),
        ]
        made = decisions.decide(
            session, u["sen"], case.id, decision(action, **params, holds=choices)
        )
        result = made
        if made.pending_approval:
            assert {hold(session, h1).status, hold(session, h2).status} == {HoldStatus.HELD}
            approver = u["sen2"]
            result = decisions.approve(session, approver, made.action.id, "ok")
        assert result.case.status is CaseStatus.CLOSED
        assert (hold(session, h1).status, hold(session, h2).status) == (
            HoldStatus.RELEASED,
            HoldStatus.REJECTED,
        )
        history = kinds(session, case.id)
        assert history.count("hold_released") == history.count("hold_rejected") == 1
        assert_agree(session, result.case)


def test_a_case_closes_with_a_hold_kept_only_with_the_reason_recorded(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [hold_id] = held_case(session, "23856.00")
        case = taken(session, u["ana"])
        why = "the exchange's treasury team decides this one (ticket 4411)"
        done = decisions.decide(
            session,
            u["ana"],
            case.id,
            decision(A.DISMISS, reason_code="false_positive", holds_reason=f"  {why} "),
        )
        assert done.case.status is CaseStatus.CLOSED
        assert hold(session, hold_id).status is HoldStatus.HELD
        [kept] = [e for e in repository.events_of(session, case.id) if e.kind == "holds_kept"]
        assert (kept.reason, kept.detail["hold_ids"], kept.actor) == (why, [hold_id], "ana")
        session.flush()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.decide")).one()
        assert (entry.detail["holds_kept"], entry.detail["holds_reason"]) == ([hold_id], why)
        assert_agree(session, done.case)


def test_hold_choices_name_held_withdrawals_of_the_case_each_once(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [other] = held_case(session, "50000.00", account="b")
        [mine] = held_case(session, "20000.00", start=2)
        case = service.take_next(session, u["ana"])
        assert case is not None and case.account_id == "b"
        case = taken(session, u["ana"])
        assert case.account_id == "a"
        bad = [
            HoldChoice(hold_id=other, resolution="release"),  # another account's
            HoldChoice(hold_id=mine, resolution="release"),
            HoldChoice(hold_id=mine, resolution="reject"),  # twice
            HoldChoice(hold_id=10**9, resolution="reject"),  # none
        ]
        with pytest.raises(ValidationFailed) as refused:
            decisions.decide(session, u["ana"], case.id, decision(A.ESCALATE, holds=bad))
        fields = [d["field"] for d in refused.value.details]
        assert fields == ["$.holds[0].hold_id", "$.holds[2].hold_id", "$.holds[3].hold_id"]
        both = [HoldChoice(hold_id=mine, resolution="reject")]
        with pytest.raises(ValidationFailed) as refused:
            decisions.decide(session, u["ana"], case.id, decision(A.RELEASE_HOLD, holds=both))
        assert [d["field"] for d in refused.value.details] == ["$.holds"]
        assert hold(session, mine).status is HoldStatus.HELD


def test_escalating_may_leave_holds_held_and_may_resolve_some(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        h1, h2 = held_case(session, "20000.00", "30000.00")
        case = taken(session, u["ana"])
        choice = [HoldChoice(hold_id=h2, resolution="release")]
        done = decisions.decide(session, u["ana"], case.id, decision(A.ESCALATE, holds=choice))
        assert done.case.status is CaseStatus.NEW  # escalated, not closed
        assert (hold(session, h1).status, hold(session, h2).status) == (
            HoldStatus.HELD,
            HoldStatus.RELEASED,
        )


def test_an_approval_skips_a_hold_resolved_meanwhile_and_stops_on_a_new_one(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        [h1] = held_case(session, "20000.00")
        case = taken(session, u["sen"])
        choice = [HoldChoice(hold_id=h1, resolution="reject")]
        made = decisions.decide(session, u["sen"], case.id, decision(A.OFFBOARD, holds=choice))
        monitor.resolve_hold(session, u["ana"], h1, "release", "customer called, verified")
        [h2] = held_case(session, "40000.00", start=2)  # joins the case while it waits
    with pytest.raises(Conflict, match=f"#{h2}"), unit_of_work(sessions) as session:
        decisions.approve(session, u["comp"], made.action.id, "ok")
    with unit_of_work(sessions) as session:
        decisions.refuse(session, u["comp"], made.action.id, "a new withdrawal is held")
        choices = [HoldChoice(hold_id=h2, resolution="reject")]
        again = decisions.decide(session, u["sen"], case.id, decision(A.OFFBOARD, holds=choices))
        monitor.resolve_hold(session, u["ana"], h2, "reject", "rejected at the desk")
        done = decisions.approve(session, u["comp"], again.action.id, "ok")
        assert done.case.status is CaseStatus.CLOSED
        assert done.action.result["holds"] == {str(h2): "already rejected"}
        assert hold(session, h1).resolved_by == "ana"


def test_compliance_approves_the_makers_hold_choices_as_the_makers(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [h1] = held_case(session, "20000.00")
        case = taken(session, u["sen"])
        choice = [HoldChoice(hold_id=h1, resolution="reject")]
        made = decisions.decide(session, u["sen"], case.id, decision(A.REFER_SAR, holds=choice))
        done = decisions.approve(session, u["comp"], made.action.id, "ok")
        assert done.case.status is CaseStatus.CLOSED
        rejected = hold(session, h1)
        assert (rejected.status, rejected.resolved_by, rejected.approved_by) == (
            HoldStatus.REJECTED,
            "sen",
            "comp",
        )
        assert rejected.note is not None and "approved by comp" in rejected.note
        session.flush()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "hold.reject")).one()
        assert (entry.actor, entry.detail["approved_by"]) == ("sen", "comp")


# --- a hold resolved outside its case -------------------------------------------------


@pytest.mark.parametrize(
    ("action", "outcome"), [("release", CaseOutcome.DISMISSED), ("reject", CaseOutcome.RESTRICTED)]
)
def test_resolving_a_cases_only_hold_elsewhere_closes_it_with_the_holds_note(
    engine: Engine, action: str, outcome: CaseOutcome
) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        [hold_id] = held_case(session, "23856.00")
        [case] = session.scalars(select(Case)).all()
        assert case.status is CaseStatus.NEW
        monitor.resolve_hold(session, u["ana"], hold_id, action, "called the customer")
    with unit_of_work(sessions) as session:
        assert holds.deliver(session) == 1
    with unit_of_work(sessions) as session:
        case = repository.get_case(session, case.id)
        assert case is not None
        assert (case.status, case.outcome) == (CaseStatus.CLOSED, outcome)
        events = repository.events_of(session, case.id)
        resolved, closed = events[-2], events[-1]
        assert resolved.kind == f"hold_{action}ed".replace("releaseed", "released")
        assert (resolved.actor, resolved.reason, resolved.detail["hold_id"]) == (
            "ana",
            "called the customer",
            hold_id,
        )
        assert (closed.kind, closed.to_status, closed.reason) == (
            "closed",
            "closed",
            "called the customer",
        )
        assert holds.deliver(session) == 0


def test_a_case_stays_open_while_another_hold_or_other_work_waits(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        h1, h2 = held_case(session, "20000.00", "30000.00")
        [case] = session.scalars(select(Case)).all()
        monitor.resolve_hold(session, u["ana"], h1, "reject", "stolen funds")
        assert holds.deliver(session) == 1
        assert session.get(Case, case.id, populate_existing=True).status is CaseStatus.NEW
        assert kinds(session, case.id).count("hold_rejected") == 1
        alert_intake.raise_alert(session, alert("manual-1", account="a"))  # work that is no hold
        monitor.resolve_hold(session, u["ana"], h2, "release", "verified")
        holds.deliver(session)
        cases = session.scalars(select(Case)).all()
        assert [c.status for c in cases if c.id == case.id] == [CaseStatus.NEW]
        assert kinds(session, case.id).count("hold_released") == 1


def test_a_case_waiting_for_approval_is_told_but_not_closed(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [h1] = held_case(session, "20000.00")
        case = taken(session, u["sen"])
        decisions.decide(
            session, u["sen"], case.id, decision(A.REFER_SAR, holds_reason="held for the FIU")
        )
        monitor.resolve_hold(session, u["ana"], h1, "reject", "the FIU asked to stop it")
        holds.deliver(session)
        assert case.status is CaseStatus.WAITING_APPROVAL
        assert kinds(session, case.id)[-1] == "hold_rejected"


def test_a_closed_case_hears_of_a_kept_hold_resolved_later_and_stays_closed(
    engine: Engine,
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [h1] = held_case(session, "20000.00")
        case = taken(session, u["ana"])
        decisions.decide(
            session,
            u["ana"],
            case.id,
            decision(A.DISMISS, reason_code="other", holds_reason="treasury decides it"),
        )
        assert case.status is CaseStatus.CLOSED and case.outcome is CaseOutcome.DISMISSED
        monitor.resolve_hold(session, u["sen"], h1, "reject", "treasury said no")
        assert holds.deliver(session) == 1
        session.flush()
        assert kinds(session, case.id)[-3:] == ["holds_kept", "closed", "hold_rejected"]
        assert (case.status, case.outcome) == (CaseStatus.CLOSED, CaseOutcome.DISMISSED)


def test_a_decisions_own_resolutions_and_redeliveries_are_recorded_once(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        held_case(session, "20000.00")
        case = taken(session, u["ana"])
        decisions.decide(session, u["ana"], case.id, decision(A.RELEASE_HOLD))
        [message] = outbox.take(session, monitor.HOLD_RESOLVED, 10)
        assert message["case_id"] == case.id
        for _ in range(2):  # as if delivered, then delivered again
            outbox.publish(session, monitor.HOLD_RESOLVED, message)
            assert holds.deliver(session) == 1
        assert kinds(session, case.id).count("hold_released") == 1
        assert case.outcome is CaseOutcome.RESOLVED


# --- the class: any mix of decisions and resolutions elsewhere keeps them agreeing ----------

_EXAMPLES = itertools.count()
Fate = tuple[
    str, bool
]  # (the decision's choice: release | reject | keep, resolved elsewhere first)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fates=st.lists(
        st.tuples(st.sampled_from(["release", "reject", "keep"]), st.booleans()),
        min_size=1,
        max_size=3,
    ),
    closing=st.sampled_from(CLOSING),
    reason=st.sampled_from(["", "  ", "treasury decides this one"]),
    elsewhere=st.sampled_from(["release", "reject"]),
)
def test_holds_and_cases_agree_whatever_resolves_them_first(
    engine: Engine,
    fates: list[Fate],
    closing: tuple[ActionKind, dict[str, Any]],
    reason: str,
    elsewhere: str,
) -> None:
    n = next(_EXAMPLES)
    action, params = closing
    with unit_of_work(session_factory(engine)) as session:
        ana = make_user(session, f"ana-{n}", Role.ANALYST)
        sen = make_user(session, f"sen-{n}", Role.SENIOR_ANALYST)
        sen2 = make_user(session, f"approver-{n}", Role.SENIOR_ANALYST)
        usd = [f"{20000 + i}.00" for i in range(len(fates))]
        ids = held_case(session, *usd, start=10 * n + 1, account=f"acct-{n}")
        case = repository.open_case_of(session, f"acct-{n}")
        assert case is not None
        for hold_id, (_, first) in zip(ids, fates, strict=True):
            if first:
                monitor.resolve_hold(session, ana, hold_id, elsewhere, "resolved at the desk")
        holds.deliver(session)
        pending = {h.id for h in holds.pending_holds(session, case)}
        if pending:
            service.assign(session, sen, case.id, sen.id)  # type: ignore[arg-type]
            choices = [
                HoldChoice(hold_id=h, resolution=choice)  # type: ignore[arg-type]
                for h, (choice, _) in zip(ids, fates, strict=True)
                if h in pending and choice != "keep"
            ]
            body = decision(action, **params, holds=choices, holds_reason=reason)
            if len(choices) < len(pending) and not reason.strip():
                with pytest.raises(ValidationFailed):
                    decisions.decide(session, sen, case.id, body)
                assert {h.id for h in holds.pending_holds(session, case)} == pending
                return
            made = decisions.decide(session, sen, case.id, body)
            if made.pending_approval:
                decisions.approve(session, sen2, made.action.id, "agreed")
            chosen = {c.hold_id: c.resolution for c in choices}
            for hold_id, resolution in chosen.items():
                expected = HoldStatus.RELEASED if resolution == "release" else HoldStatus.REJECTED
                assert (hold(session, hold_id).status, hold(session, hold_id).resolved_by) == (
                    expected,
                    sen.name,
                )
        holds.deliver(session)
        session.flush()
        assert case.status is CaseStatus.CLOSED  # settled by the desk, or by the decision
        assert_agree(session, case)
        entries = [
            e.detail["hold_id"]
            for e in repository.events_of(session, case.id)
            if e.kind in holds.EVENT_KINDS.values()
        ]
        resolved = [h for h in ids if hold(session, h).status is not HoldStatus.HELD]
        assert sorted(entries) == sorted(resolved)  # each resolution recorded once


def test_a_resolution_waits_for_the_alert_that_opens_its_case(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        u = users(session)
        events = [withdrawal("wx", "x", "20000.00"), withdrawal("wy", "y", "30000.00")]
        monitor.process_batch(session, Monitor(FakeEvaluator()), records(events))
        hold_y = monitor_repo.hold_ids(session, ["wy"])["wy"]
        monitor.resolve_hold(session, u["ana"], hold_y, "release", "verified by phone")
    assert drain(sessions, limit=1) >= 3  # one alert per transaction, then the resolution
    with unit_of_work(sessions) as session:
        case = repository.open_case_of(session, "x")
        assert case is not None  # x's hold still waits
        [closed] = [c for c in session.scalars(select(Case)) if c.account_id == "y"]
        assert (closed.status, closed.outcome) == (CaseStatus.CLOSED, CaseOutcome.DISMISSED)
        assert "hold_released" in kinds(session, closed.id)
