"""Account controls, what each records, field by field (``make mutation``
four-eyes-accounts: the checks that let planted bugs in ``accounts.service`` restrict,
approve and refuse through): who, when, why and what on the action, the restriction and
the audit entry, read back from the database, and every refusal's message and field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from test_controls import ALEX, ANA, CORA, NOW, SAM

from riskops.accounts import repository as accounts_repo
from riskops.accounts import service as accounts
from riskops.accounts.models import (
    AccountAction,
    AccountActionKind,
    AccountActionStatus,
    Restriction,
    RestrictionKind,
)
from riskops.audit.models import AuditEntry
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed

LATER = NOW + timedelta(minutes=7)
EXPIRES = NOW + timedelta(days=30)


def _entries(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _ask(engine: Engine, kind: RestrictionKind, expires_at: datetime | None = None) -> int:
    with unit_of_work(session_factory(engine)) as session:
        pending = accounts.restrict(
            session, ANA, "acc-9", kind, " mule ring ", expires_at=expires_at, now=NOW
        )
        assert isinstance(pending, AccountAction)
        return pending.id


def test_a_request_records_what_was_asked_and_audits_it(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.FULL_FREEZE, expires_at=EXPIRES)
    with session_factory(engine)() as session:
        action = session.get(AccountAction, action_id)
        assert action is not None
        assert (action.account_id, action.kind, action.status) == (
            "acc-9",
            AccountActionKind.FULL_FREEZE,
            AccountActionStatus.PENDING_APPROVAL,
        )
        assert action.params == {"restriction": "full_freeze", "expires_at": EXPIRES.isoformat()}
        assert (action.reason, action.requested_by, action.requested_at) == (
            "mule ring",
            "ana",
            NOW,
        )
        [entry] = _entries(session, "account.request_approval")
        assert (entry.actor, entry.at, entry.subject_type, entry.subject_id) == (
            "ana",
            NOW,
            "account",
            "acc-9",
        )
        assert entry.detail == {
            "action_id": action_id,
            "action": "full_freeze",
            "kind": "full_freeze",
        }
        assert session.scalars(select(Restriction)).all() == []


def test_an_offboarding_request_without_expiry_stores_none(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.ACCOUNT_CLOSED)
    with session_factory(engine)() as session:
        action = session.get(AccountAction, action_id)
        assert action is not None and action.kind is AccountActionKind.OFFBOARD
        assert action.params == {"restriction": "account_closed", "expires_at": None}


def test_an_approval_carries_out_the_request_as_asked_at_its_own_time(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.FULL_FREEZE, expires_at=EXPIRES)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        approved = accounts.approve(session, SAM, action_id, "  agreed ", now=LATER)
        assert (approved.status, approved.decided_by, approved.decided_at) == (
            AccountActionStatus.APPROVED,
            "sam",
            LATER,
        )
        assert approved.decision_comment == "agreed"
    with sessions() as session:
        action = session.get(AccountAction, action_id)
        assert action is not None
        assert (action.status, action.decided_by, action.decided_at, action.decision_comment) == (
            AccountActionStatus.APPROVED,
            "sam",
            LATER,
            "agreed",
        )
        [restriction] = session.scalars(select(Restriction)).all()
        assert action.restriction_id == restriction.id
        assert (restriction.account_id, restriction.kind, restriction.reason) == (
            "acc-9",
            RestrictionKind.FULL_FREEZE,
            "mule ring",
        )
        assert (restriction.created_at, restriction.expires_at) == (LATER, EXPIRES)
        assert (restriction.created_by, restriction.approved_by) == ("ana", "sam")
        [restrict_entry] = _entries(session, "account.restrict")
        assert (restrict_entry.actor, restrict_entry.at, restrict_entry.subject_id) == (
            "sam",
            LATER,
            "acc-9",
        )
        assert restrict_entry.detail == {
            "restriction_id": restriction.id,
            "kind": "full_freeze",
            "reason": "mule ring",
            "maker": "ana",
            "approver": "sam",
        }
        [entry] = _entries(session, "account.approve")
        assert (entry.actor, entry.at, entry.subject_type, entry.subject_id) == (
            "sam",
            LATER,
            "account_action",
            str(action_id),
        )
        assert entry.detail == {
            "action": "full_freeze",
            "maker": "ana",
            "restriction_id": restriction.id,
        }


def test_an_approval_without_a_comment_or_expiry(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.ACCOUNT_CLOSED)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        approved = accounts.approve(session, CORA, action_id, now=LATER)
        assert approved.decision_comment is None
    with sessions() as session:
        action = session.get(AccountAction, action_id)
        assert action is not None and action.decision_comment is None
        [restriction] = session.scalars(select(Restriction)).all()
        assert (restriction.kind, restriction.expires_at) == (RestrictionKind.ACCOUNT_CLOSED, None)
        assert restriction.active_at(LATER + timedelta(days=3650))


def test_a_refusal_records_who_when_and_why_and_audits_it(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.ACCOUNT_CLOSED)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        refused = accounts.refuse(session, CORA, action_id, "  thin evidence ", now=LATER)
        assert (refused.status, refused.decided_by, refused.decided_at) == (
            AccountActionStatus.REFUSED,
            "cora",
            LATER,
        )
        assert refused.decision_comment == "thin evidence"
    with sessions() as session:
        action = session.get(AccountAction, action_id)
        assert action is not None
        assert (action.status, action.decided_by, action.decided_at, action.decision_comment) == (
            AccountActionStatus.REFUSED,
            "cora",
            LATER,
            "thin evidence",
        )
        [entry] = _entries(session, "account.refuse")
        assert (entry.actor, entry.at, entry.subject_type, entry.subject_id) == (
            "cora",
            LATER,
            "account_action",
            str(action_id),
        )
        assert entry.detail == {"action": "offboard", "maker": "ana", "comment": "thin evidence"}
        assert session.scalars(select(Restriction)).all() == []


def test_a_refusal_without_a_reason_names_the_comment(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.ACCOUNT_CLOSED)
    with session_factory(engine)() as session:
        with pytest.raises(ValidationFailed) as refused:
            accounts.refuse(session, CORA, action_id, " \n", now=LATER)
        assert refused.value.message == "a refusal needs a reason"
        assert refused.value.details == [{"field": "$.comment", "reason": "a reason is required"}]


def test_each_refusal_of_an_approver_says_why(engine: Engine) -> None:
    action_id = _ask(engine, RestrictionKind.FULL_FREEZE)
    with session_factory(engine)() as session:
        for verb in (accounts.approve, accounts.refuse):
            with pytest.raises(Forbidden) as maker:
                verb(session, ANA, action_id, "mine", now=LATER)
            assert "case:approve" in maker.value.message  # an analyst is no approver
            with pytest.raises(NotFound) as missing:
                verb(session, SAM, action_id + 1000, "none", now=LATER)
            assert missing.value.message == f"account action {action_id + 1000} not found"
    with unit_of_work(session_factory(engine)) as session:
        accounts.refuse(session, SAM, action_id, "no", now=LATER)
    with session_factory(engine)() as session:
        for verb in (accounts.approve, accounts.refuse):
            with pytest.raises(Conflict) as decided:
                verb(session, CORA, action_id, "late", now=LATER)
            assert decided.value.message == f"account action {action_id} is refused, not pending"


def test_the_maker_who_may_approve_still_cannot_approve_their_own_request(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        pending = accounts.restrict(session, SAM, "acc-s", RestrictionKind.FULL_FREEZE, "x")
        assert isinstance(pending, AccountAction)
        action_id = pending.id
    with session_factory(engine)() as session:
        for verb in (accounts.approve, accounts.refuse):
            with pytest.raises(Forbidden) as own:
                verb(session, SAM, action_id, "mine", now=LATER)
            assert own.value.message == (
                "four-eyes: the maker of an action cannot approve or refuse it"
            )
        # Carrying out a request directly, naming oneself as maker, is refused the same way.
        with pytest.raises(Forbidden) as direct:
            accounts.restrict(
                session, SAM, "acc-s", RestrictionKind.FULL_FREEZE, "x", maker="sam", now=LATER
            )
        assert direct.value.message == "four-eyes: the maker of an action cannot approve it"
        with pytest.raises(Forbidden) as analyst:
            accounts.restrict(
                session, ALEX, "acc-s", RestrictionKind.FULL_FREEZE, "x", maker="ana", now=LATER
            )
        assert "case:approve" in analyst.value.message
        assert session.scalars(select(Restriction)).all() == []


@pytest.mark.parametrize("verb", [accounts.approve, accounts.refuse])
def test_of_two_deciders_at_once_the_second_is_told_it_was_decided_meanwhile(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, verb: Any
) -> None:
    """The race itself: a rival decides the action after this decider read it pending and
    before its own conditional UPDATE (the rival's is the same UPDATE, run just before)."""
    action_id = _ask(engine, RestrictionKind.ACCOUNT_CLOSED)
    real = accounts_repo.decide_action

    def rival_first(session: Session, *args: Any) -> bool:
        assert real(session, action_id, AccountActionStatus.REFUSED, "sam", "first", NOW)
        return real(session, *args)

    monkeypatch.setattr(accounts_repo, "decide_action", rival_first)
    with session_factory(engine)() as session:
        with pytest.raises(Conflict) as lost:
            verb(session, CORA, action_id, "second", now=LATER)
        assert lost.value.message == f"account action {action_id} was decided meanwhile"
        action = session.get(AccountAction, action_id, populate_existing=True)
        assert action is not None and (action.status, action.decided_by) == (
            AccountActionStatus.REFUSED,
            "sam",
        )
        assert session.scalars(select(Restriction)).all() == []


def test_a_restriction_in_force_at_once_records_its_time_and_audit(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        lock = accounts.restrict(
            session, ALEX, "acc-7", RestrictionKind.WITHDRAWAL_LOCK, " ATO ", now=LATER
        )
        assert isinstance(lock, Restriction)
        lock_id = lock.id
    with session_factory(engine)() as session:
        row = session.get(Restriction, lock_id)
        assert row is not None
        assert (row.created_at, row.created_by, row.approved_by, row.reason) == (
            LATER,
            "alex",
            None,
            "ATO",
        )
        [entry] = _entries(session, "account.restrict")
        assert (entry.actor, entry.at, entry.subject_id) == ("alex", LATER, "acc-7")
        assert entry.detail == {
            "restriction_id": lock_id,
            "kind": "withdrawal_lock",
            "reason": "ATO",
            "maker": "alex",
            "approver": None,
        }


def test_an_expiry_in_the_past_is_refused_with_its_field(engine: Engine) -> None:
    with session_factory(engine)() as session:
        with pytest.raises(ValidationFailed) as refused:
            accounts.restrict(
                session,
                ANA,
                "acc-1",
                RestrictionKind.WITHDRAWAL_LOCK,
                "x",
                expires_at=NOW - timedelta(seconds=1),
                now=NOW,
            )
        assert refused.value.message == "a restriction expires in the future"
        assert refused.value.details == [
            {"field": "$.expires_at", "reason": "a future time with a UTC offset"}
        ]
        # One second later than now is the future.
        soon = accounts.restrict(
            session,
            ANA,
            "acc-1",
            RestrictionKind.WITHDRAWAL_LOCK,
            "x",
            expires_at=NOW + timedelta(seconds=1),
            now=NOW,
        )
        assert isinstance(soon, Restriction) and soon.expires_at == NOW + timedelta(seconds=1)
