"""Builders for the QA tests: users, closed cases (with the action that closed them and their
alerts), written straight to the case tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.auth.permissions import Principal, Role
from riskops.cases.models import (
    ActionKind,
    ActionStatus,
    AlertSource,
    Case,
    CaseAction,
    CaseAlert,
    CaseOutcome,
    CaseStatus,
    Note,
    Queue,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CLOSING = {
    CaseOutcome.DISMISSED: ActionKind.DISMISS,
    CaseOutcome.RESTRICTED: ActionKind.RESTRICT,
    CaseOutcome.OFFBOARDED: ActionKind.OFFBOARD,
    CaseOutcome.SAR_REFERRED: ActionKind.REFER_SAR,
    CaseOutcome.RESOLVED: ActionKind.REQUIRE_REKYC,
}


def user(session: Session, username: str, role: Role, *, created_at: datetime = T0) -> Principal:
    row = User(
        username=username,
        display_name=username.title(),
        role=role,
        password_hash="x",
        created_at=created_at,
    )
    session.add(row)
    session.flush()
    return Principal.for_user(row.id, username, role)


def queue(session: Session, key: str = "aml") -> None:
    if session.get(Queue, key) is None:
        session.add(Queue(key=key, name=key.upper(), sla_minutes=60))
        session.flush()


def closed_case(
    session: Session,
    *,
    analyst: str = "ana",
    approver: str | None = None,
    outcome: CaseOutcome = CaseOutcome.DISMISSED,
    queue_key: str = "aml",
    closed_at: datetime = T0,
    rules: tuple[str, ...] = ("R-1",),
    account_id: str | None = None,
) -> Case:
    """A case closed with ``outcome`` by ``analyst`` (approved by ``approver``)."""
    queue(session, queue_key)
    case = Case(
        account_id=account_id,
        queue_key=queue_key,
        status=CaseStatus.CLOSED,
        title="a closed case",
        severity=50,
        amount_at_risk_usd=Decimal("100.00"),
        priority=10,
        alert_count=len(rules),
        opened_at=closed_at - timedelta(hours=1),
        due_at=closed_at,
        updated_at=closed_at,
        closed_at=closed_at,
        outcome=outcome,
        reason_code="legitimate_activity" if outcome is CaseOutcome.DISMISSED else None,
    )
    session.add(case)
    session.flush()
    sections = {k: f"{k} text" for k in ("summary", "evidence", "findings", "decision")}
    note = Note(
        case_id=case.id,
        author=analyst,
        created_at=closed_at,
        sections={**sections, "rationale": "why"},
    )
    session.add(note)
    session.flush()
    session.add(
        CaseAction(
            case_id=case.id,
            note_id=note.id,
            kind=CLOSING[outcome],
            params={},
            status=ActionStatus.DONE,
            requested_by=analyst,
            requested_at=closed_at,
            decided_by=approver or analyst,
            decided_at=closed_at,
            result={},
        )
    )
    for i, rule in enumerate(rules):
        session.add(
            CaseAlert(
                source=AlertSource.MONITOR,
                source_ref=f"{case.id}-{i}",
                case_id=case.id,
                account_id=account_id,
                kind=rule,
                severity=50,
                amount_usd=Decimal("100.00"),
                title="an alert",
                detail={},
                occurred_at=closed_at,
                received_at=closed_at,
            )
        )
    session.flush()
    return case
