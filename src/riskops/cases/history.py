"""Status changes of a case and its append-only history, shared by the case services.

Every transition goes through ``transition``: the pure state machine says where the case
goes (or raises Conflict), and a ``CaseEvent`` records who, when, from, to and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from riskops.cases import repository as repo
from riskops.cases.domain import Command, next_status
from riskops.cases.models import Case, CaseEvent, CaseStatus
from riskops.kernel.errors import NotFound
from riskops.outbound import webhooks


def load(session: Session, case_id: int, *, for_update: bool = True) -> Case:
    """The case, locked for the rest of the transaction (PostgreSQL); NotFound if absent."""
    case = repo.get_case(session, case_id, for_update=for_update)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def event(
    session: Session,
    case: Case,
    actor: str,
    kind: str,
    now: datetime,
    *,
    from_status: CaseStatus | None = None,
    to_status: CaseStatus | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            actor=actor,
            kind=kind,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            reason=reason,
            detail=detail or {},
        )
    )


def transition(
    session: Session,
    case: Case,
    command: Command,
    actor: str,
    now: datetime,
    *,
    kind: str | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> CaseStatus:
    """Move the case by ``command`` (Conflict if it may not) and append the event."""
    before = case.status
    after = next_status(before, command)
    case.status = after
    case.updated_at = now
    case.version += 1
    if after is CaseStatus.CLOSED:
        case.closed_at = now
    event(
        session,
        case,
        actor,
        kind or command.value,
        now,
        from_status=before,
        to_status=after,
        reason=reason,
        detail=detail,
    )
    if after is CaseStatus.CLOSED:  # the exchange's systems may follow case outcomes
        told = {
            "case_id": case.id,
            "account_id": case.account_id,
            "outcome": (detail or {}).get("outcome"),
            "closed_at": now,
        }
        webhooks.emit(session, "case.closed", told, now=now)
    return before
