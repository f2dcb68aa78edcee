"""Four-eyes approvals, what each records, pinned field by field (``make mutation``
four-eyes: these are the checks that let planted bugs in ``cases.decisions.approve`` and
``refuse`` through): the approval's own time on every row it writes, its comment, the
maker's note handed back, and the maker's hold choices run as the maker's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from case_fakes import T0, users
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from test_cases_holds import decision, held_case, hold, taken

from riskops.accounts.models import Restriction
from riskops.accounts.models import RestrictionKind as K
from riskops.audit.models import AuditEntry
from riskops.auth.models import User
from riskops.auth.permissions import Role
from riskops.cases import decisions
from riskops.cases.models import ActionKind as A
from riskops.cases.models import ActionStatus, CaseEvent, CaseStatus
from riskops.cases.schemas import HoldChoice
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden
from riskops.monitor.models import HoldStatus

# A fixed time far from the clock: a row stamped with utcnow() instead cannot equal it.
APPROVED_AT = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)


def _audit(session: Session, action: str) -> AuditEntry:
    session.flush()
    return session.scalars(select(AuditEntry).where(AuditEntry.action == action)).one()


def _event(session: Session, case_id: int, kind: str) -> CaseEvent:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
    return session.scalars(query).one()


def test_a_freeze_with_a_hold_choice_is_carried_out_at_the_approvals_time(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [hold_id] = held_case(session, "23856.00")
        case = taken(session, u["sen"])
        choice = [HoldChoice(hold_id=hold_id, resolution="reject")]
        freeze = decision(A.RESTRICT, restrictions=[K.FULL_FREEZE], holds=choice)
        made = decisions.decide(session, u["sen"], case.id, freeze, now=T0)
        done = decisions.approve(session, u["sen2"], made.action.id, "agreed", now=APPROVED_AT)

        assert done.note.id == made.note.id  # the maker's note, handed back
        assert done.note.sections["decision"] == "freeze the account"
        approved = _event(session, case.id, "approved")
        assert (approved.actor, approved.reason, approved.at) == ("sen2", "agreed", APPROVED_AT)
        entry = _audit(session, "case.approve")
        assert (entry.actor, entry.at) == ("sen2", APPROVED_AT)

        [freeze_row] = session.scalars(select(Restriction)).all()
        assert (freeze_row.kind, freeze_row.created_at) == (K.FULL_FREEZE, APPROVED_AT)
        assert (freeze_row.created_by, freeze_row.approved_by) == ("sen", "sen2")

        rejected = hold(session, hold_id)
        assert (rejected.status, rejected.resolved_at) == (HoldStatus.REJECTED, APPROVED_AT)
        assert (rejected.resolved_by, rejected.approved_by) == ("sen", "sen2")
        assert rejected.note == "freeze the account (approved by sen2)"
        assert done.action.result == {
            "restriction_ids": [freeze_row.id],
            "holds": {str(hold_id): "rejected"},
        }
        assert (done.case.status, done.case.closed_at) == (CaseStatus.CLOSED, APPROVED_AT)


def test_an_approval_without_a_comment_stores_none(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [hold_id] = held_case(session, "20000.00")
        case = taken(session, u["sen"])
        choice = [HoldChoice(hold_id=hold_id, resolution="release")]
        made = decisions.decide(session, u["sen"], case.id, decision(A.REFER_SAR, holds=choice))
        done = decisions.approve(session, u["comp"], made.action.id)
        assert done.action.decision_comment is None
        assert _event(session, case.id, "approved").reason == ""
        assert hold(session, hold_id).status is HoldStatus.RELEASED


def test_a_maker_who_may_no_longer_resolve_holds_stops_the_approval(engine: Engine) -> None:
    """The maker's hold choices run as the maker's: a maker moved meanwhile to a role
    without hold:resolve (compliance) makes the approval refused before anything runs."""
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [hold_id] = held_case(session, "23856.00")
        case = taken(session, u["sen"])
        choice = [HoldChoice(hold_id=hold_id, resolution="reject")]
        made = decisions.decide(session, u["sen"], case.id, decision(A.OFFBOARD, holds=choice))
        session.execute(update(User).where(User.username == "sen").values(role=Role.COMPLIANCE))
        with pytest.raises(Forbidden, match="needs hold:resolve"):
            decisions.approve(session, u["sen2"], made.action.id, "agreed")
        assert made.action.status is ActionStatus.PENDING_APPROVAL
        assert hold(session, hold_id).status is HoldStatus.HELD
        assert session.scalars(select(Restriction)).all() == []


def test_a_maker_without_hold_choices_needs_no_hold_permission(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        [hold_id] = held_case(session, "23856.00")
        case = taken(session, u["sen"])
        kept = decision(A.OFFBOARD, holds_reason="kept for the investigators")
        made = decisions.decide(session, u["sen"], case.id, kept)
        session.execute(update(User).where(User.username == "sen").values(role=Role.COMPLIANCE))
        done = decisions.approve(session, u["sen2"], made.action.id, "agreed")
        assert done.action.status is ActionStatus.DONE
        assert hold(session, hold_id).status is HoldStatus.HELD


def test_a_refusal_is_recorded_at_its_own_time_and_hands_back_the_makers_note(
    engine: Engine,
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        held_case(session, "20000.00")
        case = taken(session, u["sen"])
        made = decisions.decide(
            session, u["sen"], case.id, decision(A.REFER_SAR, holds_reason="wait"), now=T0
        )
        refused = decisions.refuse(session, u["comp"], made.action.id, "thin", now=APPROVED_AT)
        assert refused.note.id == made.note.id
        entry = _audit(session, "case.refuse")
        assert (entry.actor, entry.at) == ("comp", APPROVED_AT)
