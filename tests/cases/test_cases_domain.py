"""The pure parts: the state machine (every command from every status), SLA, priority, routing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from case_fakes import T0, at

from riskops.cases.domain import TRANSITIONS, Command, Sla, next_status, priority, route, subject_of
from riskops.cases.models import CaseStatus as S
from riskops.kernel.errors import Conflict

# The expected table, written out independently of TRANSITIONS: command -> {from: to}.
EXPECTED: dict[Command, dict[S, S]] = {
    Command.ASSIGN: {S.NEW: S.ASSIGNED, S.ASSIGNED: S.ASSIGNED, S.IN_REVIEW: S.ASSIGNED},
    Command.UNASSIGN: {S.ASSIGNED: S.NEW, S.IN_REVIEW: S.NEW},
    Command.START_REVIEW: {S.ASSIGNED: S.IN_REVIEW, S.IN_REVIEW: S.IN_REVIEW},
    Command.WAIT_CUSTOMER: {S.ASSIGNED: S.WAITING_CUSTOMER, S.IN_REVIEW: S.WAITING_CUSTOMER},
    Command.CUSTOMER_REPLIED: {S.WAITING_CUSTOMER: S.IN_REVIEW},
    Command.REQUEST_APPROVAL: {S.ASSIGNED: S.WAITING_APPROVAL, S.IN_REVIEW: S.WAITING_APPROVAL},
    Command.APPROVAL_REFUSED: {S.WAITING_APPROVAL: S.IN_REVIEW},
    Command.ESCALATE: {S.NEW: S.NEW, S.ASSIGNED: S.NEW, S.IN_REVIEW: S.NEW},
    Command.CLOSE: {
        S.ASSIGNED: S.CLOSED,
        S.IN_REVIEW: S.CLOSED,
        S.WAITING_CUSTOMER: S.CLOSED,
        S.WAITING_APPROVAL: S.CLOSED,
    },
    Command.REOPEN: {S.CLOSED: S.IN_REVIEW},
    Command.HOLDS_SETTLED: {S.NEW: S.CLOSED, S.ASSIGNED: S.CLOSED, S.IN_REVIEW: S.CLOSED},
    Command.REVIEW_DECIDED: {
        S.NEW: S.CLOSED,
        S.ASSIGNED: S.CLOSED,
        S.IN_REVIEW: S.CLOSED,
        S.WAITING_CUSTOMER: S.CLOSED,
    },
}


@pytest.mark.parametrize("command", list(Command))
@pytest.mark.parametrize("status", list(S))
def test_every_command_from_every_status(command: Command, status: S) -> None:
    expected = EXPECTED[command].get(status)
    if expected is None:
        with pytest.raises(Conflict):
            next_status(status, command)
    else:
        assert next_status(status, command) is expected


def test_the_table_covers_every_command() -> None:
    assert set(TRANSITIONS) == set(EXPECTED) == set(Command)


def test_sla_pause_and_resume_extends_the_deadline_by_the_wait() -> None:
    sla = Sla(due_at=at(60))
    paused = sla.pause(at(10))
    assert paused.pause(at(20)) == paused  # pausing twice keeps the first pause
    assert paused.remaining(at(500)) == timedelta(minutes=50)  # frozen while paused
    assert not paused.breached(at(500))
    resumed = paused.resume(at(40))
    assert resumed == Sla(due_at=at(90))
    assert resumed.resume(at(45)) == resumed
    assert resumed.breached(at(91)) and not resumed.breached(at(89))


def test_priority_orders_severity_then_money_then_urgency() -> None:
    low = priority(20, Decimal("10"), 24 * 60)
    high = priority(90, Decimal("10"), 24 * 60)
    rich = priority(20, Decimal("1000000"), 24 * 60)
    urgent = priority(20, Decimal("10"), 15)
    assert high > rich > low
    assert urgent > low
    assert priority(20, Decimal("0"), 15) == 20 + 40
    assert priority(150, Decimal("-5"), 0) == 100  # clamped
    assert priority(0, Decimal("10") ** 12, 10**6) == 60  # money caps at 60


def test_route_and_subject() -> None:
    def r(**kw: object) -> str:
        base: dict = {"source": "monitor", "account_id": "a", "kind": "X", "typology": None}
        base.update(kw)
        base.setdefault("detail", {})
        return route(**base)

    assert r(account_id=None, typology="mule") == "triage"
    assert r(detail={"action": "hold"}) == "held_withdrawals"
    assert r(typology="structuring") == "aml"
    assert r(kind="credential_stuffing") == "account_takeover"
    assert r() == "triage"
    assert subject_of({"event_id": "e1", "hold_id": 3}) == "event_id:e1"
    assert subject_of({"message_id": "<m@x>"}) == "message_id:<m@x>"
    assert subject_of({"event_id": ""}) is None
    assert T0.tzinfo is not None
