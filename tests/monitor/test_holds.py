"""Resolving a hold: one function for every caller (permission, note, audit, outbox)."""

from __future__ import annotations

import pytest
from monitor_fakes import FakeEvaluator, records, withdrawal
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import ROLE_PERMISSIONS, Permission, Principal, Role
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from riskops.monitor import repository as repo
from riskops.monitor import service
from riskops.monitor.engine import Monitor
from riskops.monitor.models import HoldStatus


def _held(engine: Engine) -> int:
    with unit_of_work(session_factory(engine)) as session:
        batch = records([withdrawal("w1", "a", "20000.00")])  # hold: BIG-1
        service.process_batch(session, Monitor(FakeEvaluator()), batch)
        return repo.hold_ids(session, ["w1"])["w1"]


ANA = Principal.for_user(1, "ana", Role.ANALYST)
BOB = Principal.for_user(2, "bob", Role.SENIOR_ANALYST)


def test_hold_release_requires_note_and_resolves_once(engine: Engine) -> None:
    hold_id = _held(engine)
    sessions = session_factory(engine)
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        service.resolve_hold(session, ANA, hold_id, "release", "  ")
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        service.resolve_hold(session, ANA, hold_id, "approve", "not a resolution")
    with unit_of_work(sessions) as session:
        hold = service.resolve_hold(session, ANA, hold_id, "release", "customer confirmed")
        assert hold.status is HoldStatus.RELEASED
    with pytest.raises(Conflict), unit_of_work(sessions) as session:
        service.resolve_hold(session, BOB, hold_id, "reject", "too late")
    with pytest.raises(NotFound), unit_of_work(sessions) as session:
        service.resolve_hold(session, BOB, hold_id + 999, "reject", "no such hold")
    with sessions() as session:
        stored = repo.get_hold(session, hold_id)
        assert stored is not None
        assert (stored.status, stored.resolved_by, stored.note) == (
            HoldStatus.RELEASED,
            "ana",
            "customer confirmed",
        )
        assert stored.resolved_at is not None and stored.resolved_at.tzinfo is not None


@pytest.mark.parametrize(
    "role", [r for r in Role if Permission.HOLD_RESOLVE not in ROLE_PERMISSIONS[r]]
)
def test_resolving_a_hold_needs_hold_resolve_and_changes_nothing_without(
    engine: Engine, role: Role
) -> None:
    hold_id = _held(engine)
    sessions = session_factory(engine)
    with pytest.raises(Forbidden), unit_of_work(sessions) as session:
        service.resolve_hold(session, Principal.for_user(9, "x", role), hold_id, "reject", "no")
    with sessions() as session:
        assert outbox.pending(session, service.HOLD_RESOLVED) == 0
        stored = repo.get_hold(session, hold_id)
        assert stored is not None and stored.status is HoldStatus.HELD


@pytest.mark.parametrize("action", ["release", "reject"])
def test_a_resolution_is_audited_and_told_on_the_outbox_in_its_transaction(
    engine: Engine, action: str
) -> None:
    hold_id = _held(engine)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        service.resolve_hold(session, BOB, hold_id, action, " why ", context={"case_id": 7})
    with unit_of_work(sessions) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == f"hold.{action}"))
        assert (entry.actor, entry.subject_id, entry.detail["note"]) == ("bob", str(hold_id), "why")
        [message] = outbox.take(session, service.HOLD_RESOLVED, 10)
        status = {"release": "released", "reject": "rejected"}[action]
        assert message["hold_id"] == hold_id
        assert (message["status"], message["resolved_by"], message["case_id"]) == (status, "bob", 7)
        assert message["account_id"] == "a" and message["note"] == "why"
        assert outbox.take(session, service.HOLD_RESOLVED, 10) == []  # taken once
