"""A case's held withdrawals: which still wait, and the case's side of every resolution.

A hold is resolved in one place, ``riskops.monitor.service.resolve_hold``, whoever resolves
it: a case decision (``cases.decisions``), the holds page or the API. That function tells
the resolution on the ``hold.resolved`` outbox topic in its transaction; ``deliver`` takes
the messages into cases: the hold's case (found from the alert that held it) gets a history
entry, and when nothing else waits on the case it closes (ADR 0019).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import history
from riskops.cases import repository as repo
from riskops.cases.domain import Command
from riskops.cases.models import Case, CaseAlert, CaseOutcome, CaseStatus
from riskops.kernel import outbox
from riskops.kernel.clock import utcnow
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import Hold, HoldStatus
from riskops.monitor.service import HOLD_RESOLVED

# The history entry of a resolved hold, by the hold's new status.
EVENT_KINDS = {
    HoldStatus.RELEASED.value: "hold_released",
    HoldStatus.REJECTED.value: "hold_rejected",
}
# A case closes by itself only from these: an approval or a customer's reply still waits on
# the others.
_SETTLEABLE = frozenset({CaseStatus.NEW, CaseStatus.ASSIGNED, CaseStatus.IN_REVIEW})


def hold_ids_of(alerts: Iterable[CaseAlert]) -> set[int]:
    """The holds the alerts are about (intake names them in the alert's detail)."""
    return {int(a.detail["hold_id"]) for a in alerts if a.detail.get("hold_id") is not None}


def pending_holds(session: Session, case: Case, *, for_update: bool = False) -> list[Hold]:
    """The case's withdrawals still held, oldest first: those its alerts are about, and any
    other of its account. ``for_update`` locks them for a decision (PostgreSQL), so a
    resolution on the holds page waits for the decision or fails on a resolved hold."""
    ids = hold_ids_of(repo.alerts_of(session, case.id))
    return monitor_repo.held_holds(session, ids, case.account_id, for_update=for_update)


def held_withdrawals(session: Session, principal: Principal, case_id: int) -> list[Hold]:
    """The case's withdrawals still held (``pending_holds``), for its decision form."""
    require(principal, Permission.CASE_VIEW)
    return pending_holds(session, history.load(session, case_id, for_update=False))


def record(
    session: Session,
    case: Case,
    hold: Hold,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """The case's history entry of one resolved hold (who, the hold's note, the amount)."""
    history.event(
        session,
        case,
        hold.resolved_by or "",
        EVENT_KINDS[hold.status.value],
        now,
        reason=hold.note or "",
        detail={"hold_id": hold.id, "usd_value": str(hold.usd_value), **(detail or {})},
    )


def deliver(session: Session, limit: int = 500, *, now: datetime | None = None) -> int:
    """Take up to ``limit`` ``hold.resolved`` messages into their cases; returns how many.

    Each message's hold gets a history entry on each case whose alert held it, unless the
    case recorded it already (its own decision resolved the hold, or a redelivery), and a
    case left with nothing to do closes (``settle``).
    """
    now = now or utcnow()
    messages = outbox.take(session, HOLD_RESOLVED, limit)
    for message in messages:
        hold = monitor_repo.get_hold(session, int(message["hold_id"]))
        if hold is None or hold.status is HoldStatus.HELD:
            continue  # not a resolution this database knows: nothing to tell a case
        for case in _cases_holding(session, hold):
            if _recorded(session, case, hold.id):
                continue
            record(session, case, hold, now, {"outside_the_case": True})
            settle(session, case, hold, now)
            session.flush()  # the next message of the batch sees this one's history entry
    return len(messages)


def settle(session: Session, case: Case, hold: Hold, now: datetime) -> bool:
    """Close ``case`` if the resolution of ``hold`` left it nothing to do: it is new or in
    review (no approval, no customer's reply waits), every alert of it is about a hold and
    none of its account's withdrawals is still held. The outcome follows the holds: any
    rejected means restricted, all released means legitimate (dismissed). True if closed."""
    if case.status not in _SETTLEABLE:
        return False
    alerts = repo.alerts_of(session, case.id)
    if any(a.detail.get("hold_id") is None for a in alerts):
        return False  # an alert that is not a held withdrawal still wants an analyst
    ids = hold_ids_of(alerts)
    if monitor_repo.held_holds(session, ids, case.account_id):
        return False
    statuses = {h.status for h in monitor_repo.holds_by_ids(session, ids)}
    outcome = CaseOutcome.RESTRICTED if HoldStatus.REJECTED in statuses else CaseOutcome.DISMISSED
    detail = {"outcome": outcome.value, "hold_id": hold.id}
    history.transition(
        session,
        case,
        Command.HOLDS_SETTLED,
        hold.resolved_by or "",
        now,
        kind="closed",
        reason=hold.note or "",
        detail=detail,
    )
    case.outcome = outcome
    case.reason_code = None
    case.sla_paused_at = case.waiting_until = None
    return True


def _cases_holding(session: Session, hold: Hold) -> list[Case]:
    """The cases of the alerts that held ``hold`` (a withdrawal's first row), locked."""
    case_ids = sorted(
        {
            a.case_id
            for a in repo.alerts_of_account(session, hold.account_id)
            if a.case_id is not None and _about(a, hold)
        }
    )
    return [history.load(session, case_id) for case_id in case_ids]


def _about(alert: CaseAlert, hold: Hold) -> bool:
    detail = alert.detail
    if detail.get("hold_id") is not None:
        return int(detail["hold_id"]) == hold.id
    return detail.get("event_id") == hold.event_id and detail.get("row") == 0


def _recorded(session: Session, case: Case, hold_id: int) -> bool:
    kinds = set(EVENT_KINDS.values())
    return any(
        e.kind in kinds and e.detail.get("hold_id") == hold_id
        for e in repo.events_of(session, case.id)
    )
