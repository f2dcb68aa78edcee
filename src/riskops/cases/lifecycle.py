"""The rest of a case's life: customer replies, expired waits (the SLA sweep), reopening,
and note amendments (notes are never edited; there is no function that updates one)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import history
from riskops.cases import repository as repo
from riskops.cases.domain import Command, Sla
from riskops.cases.models import Case, CaseStatus, NoteAmendment
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed

SWEEPER = "system:sla_sweep"


def _required(field: str, value: str) -> str:
    if not value.strip():
        raise ValidationFailed(
            f"`{field}` is required", details=[{"field": f"$.{field}", "reason": "required"}]
        )
    return value.strip()


def _resume(case: Case, now: datetime) -> None:
    """The time spent waiting for the customer is added to the deadline."""
    sla = Sla(case.due_at, case.sla_paused_at).resume(now)
    case.due_at, case.sla_paused_at, case.waiting_until = sla.due_at, None, None


def customer_replied(
    session: Session,
    principal: Principal,
    case_id: int,
    text: str,
    *,
    now: datetime | None = None,
) -> Case:
    """The customer answered an information request: back to review, the SLA clock resumes
    (its deadline extended by the time spent waiting). Intake calls this for replies."""
    require(principal, Permission.CASE_WORK)
    text = _required("text", text)
    now = now or utcnow()
    case = history.load(session, case_id)
    history.transition(
        session, case, Command.CUSTOMER_REPLIED, principal.name, now, reason=text[:2000]
    )
    _resume(case, now)
    session.flush()
    record(session, principal, "case.customer_replied", "case", case_id, now=now)
    return case


def attach_reply(
    session: Session,
    principal: Principal,
    case: Case,
    *,
    text: str,
    detail: dict[str, object],
    resume_with: str,
    now: datetime,
) -> bool:
    """A customer's reply (email or SMS) on its case: a ``customer_reply`` history entry
    (``text`` and ``detail``: the channel, the kept message); a case waiting for the
    customer goes back to review with ``resume_with`` (``customer_replied``). True if it
    resumed."""
    history.event(
        session, case, principal.name, "customer_reply", now, reason=text[:2000], detail=detail
    )
    if case.status is not CaseStatus.WAITING_CUSTOMER:
        return False
    customer_replied(session, principal, case.id, resume_with[:2000], now=now)
    return True


def sweep(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Reopen cases whose wait for the customer is over (the worker loop calls this)."""
    now = now or utcnow()
    expired = 0
    for case in repo.waits_over(session, now):
        history.transition(
            session,
            case,
            Command.CUSTOMER_REPLIED,
            SWEEPER,
            now,
            kind="wait_expired",
            reason="no reply from the customer by the due date",
        )
        _resume(case, now)
        expired += 1
    session.flush()
    return {"waits_expired": expired}


def reopen(
    session: Session,
    principal: Principal,
    case_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Case:
    """Reopen a closed case (case:reopen): back to review with a fresh SLA of its queue."""
    require(principal, Permission.CASE_REOPEN)
    reason = _required("reason", reason)
    now = now or utcnow()
    case = history.load(session, case_id)
    if case.account_id is not None:
        other = repo.open_case_of(session, case.account_id)
        if other is not None and other.id != case.id:
            raise Conflict(f"account {case.account_id} already has open case {other.id}")
    queue = repo.get_queue(session, case.queue_key)
    assert queue is not None  # a foreign key
    history.transition(
        session,
        case,
        Command.REOPEN,
        principal.name,
        now,
        kind="reopened",
        reason=reason,
        detail={"outcome": case.outcome.value if case.outcome else None},
    )
    case.outcome, case.reason_code, case.closed_at = None, None, None
    case.due_at = now + timedelta(minutes=queue.sla_minutes)
    if (
        case.assignee_id is None
        and principal.id is not None
        and principal.can(Permission.CASE_WORK)
    ):
        case.assignee_id = principal.id
    session.flush()
    record(session, principal, "case.reopen", "case", case_id, {"reason": reason}, now=now)
    return case


def amend_note(
    session: Session,
    principal: Principal,
    note_id: int,
    text: str,
    *,
    now: datetime | None = None,
) -> NoteAmendment:
    """Append an amendment to a note (the note itself never changes)."""
    require(principal, Permission.CASE_WORK)
    text = _required("text", text)
    now = now or utcnow()
    note = repo.get_note(session, note_id)
    if note is None:
        raise NotFound(f"note {note_id} not found")
    amendment = repo.add(
        session, NoteAmendment(note_id=note.id, author=principal.name, created_at=now, text=text)
    )
    case = history.load(session, note.case_id, for_update=False)
    history.event(
        session,
        case,
        principal.name,
        "note_amended",
        now,
        detail={"note_id": note.id, "amendment_id": amendment.id},
    )
    record(session, principal, "note.amend", "case_note", note.id, now=now)
    return amendment
