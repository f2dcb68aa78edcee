"""Case housekeeping: one pass seeds queues, ends overdue waits and auto-assigns."""

from __future__ import annotations

from case_fakes import T0, alert, at, make_user
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal, Role
from riskops.cases import alert_intake, decisions, service, shifts
from riskops.cases.models import ActionKind, CaseStatus
from riskops.cases.schemas import DecisionIn, NoteSections
from riskops.cases.tasks import housekeeping
from riskops.kernel.db import session_factory, unit_of_work

NOTE = NoteSections(summary="s", evidence="e", findings="f", decision="d", rationale="r")


def test_an_empty_database_gets_its_queues(engine: Engine) -> None:
    sessions = session_factory(engine)
    assert housekeeping(sessions, T0) == {"waits_expired": 0, "auto_assigned": 0}
    with unit_of_work(sessions) as session:
        keys = {q.key for q in service.queue_overview(session, Principal.system("t"), T0)}
    assert {"held_withdrawals", "aml", "triage", "escalations", "kyc"} <= keys


def test_a_pass_ends_overdue_waits_and_assigns_to_whoever_is_on_shift(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        manager = make_user(session, "mia", Role.MANAGER)
        ana = make_user(session, "ana", Role.ANALYST)
        assert ana.id is not None
        shifts.add_shift(session, manager, ana.id, T0, at(8 * 60))
        waiting = alert_intake.raise_alert(session, alert("w", account="acc-w"), now=T0).case
        service.assign(session, ana, waiting.id, ana.id, now=T0)
        body = DecisionIn(action=ActionKind.REQUEST_INFO, note=NOTE, due_at=at(30))
        decisions.decide(session, ana, waiting.id, body, now=T0)
        fresh = alert_intake.raise_alert(session, alert("n", account="acc-n"), now=T0).case
        waiting_id, fresh_id = waiting.id, fresh.id

    assert housekeeping(sessions, at(10)) == {"waits_expired": 0, "auto_assigned": 1}
    assert housekeeping(sessions, at(31)) == {"waits_expired": 1, "auto_assigned": 0}
    with unit_of_work(sessions) as session:
        mine = {c.id: c.status for c in service.my_cases(session, ana)}
    assert mine == {waiting_id: CaseStatus.IN_REVIEW, fresh_id: CaseStatus.ASSIGNED}
