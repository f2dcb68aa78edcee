"""What managers configure: queue settings and the shift calendar.

A queue's SLA applies to cases opened (or moved into the queue) after the change; the
deadline of a case already waiting is a promise made when it arrived and is not rewritten.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import repository as repo
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import Queue, Shift
from riskops.cases.schemas import QueueUpdateIn
from riskops.kernel.errors import NotFound, ValidationFailed

MAX_WINDOW_DAYS = 31


def update_queue(session: Session, principal: Principal, key: str, body: QueueUpdateIn) -> Queue:
    """Rename a queue, change its SLA, description or place on the overview (queue:manage)."""
    require(principal, Permission.QUEUE_MANAGE)
    ensure_default_queues(session)
    queue = repo.get_queue(session, key)
    if queue is None:
        raise NotFound(f"queue {key!r} not found")
    changes = {
        field: value
        for field in ("name", "description", "sla_minutes", "position")
        if (value := getattr(body, field)) is not None and value != getattr(queue, field)
    }
    if not changes:
        return queue
    before = {field: getattr(queue, field) for field in changes}
    for field, value in changes.items():
        setattr(queue, field, value)
    session.flush()
    record(session, principal, "queue.update", "queue", key, {"from": before, "to": changes})
    return queue


def queue_names(session: Session, principal: Principal) -> dict[str, str]:
    """Each queue's display name by key (case:view); no case is counted."""
    require(principal, Permission.CASE_VIEW)
    return {q.key: q.name for q in repo.queues(session)}


def list_shifts(
    session: Session, principal: Principal, starts: datetime, ends: datetime
) -> list[Shift]:
    """Shifts overlapping [starts, ends), earliest first (case:view: analysts see the rota)."""
    require(principal, Permission.CASE_VIEW)
    if ends <= starts:
        raise ValidationFailed(
            "the window ends after it starts",
            details=[{"field": "to", "reason": "must be after from"}],
        )
    if (ends - starts).days > MAX_WINDOW_DAYS:
        raise ValidationFailed(
            f"ask for at most {MAX_WINDOW_DAYS} days of shifts at a time",
            details=[{"field": "to", "reason": f"at most {MAX_WINDOW_DAYS} days after from"}],
        )
    return repo.shifts_between(session, starts, ends)


def remove_shift(session: Session, principal: Principal, shift_id: int) -> None:
    """Take a shift off the calendar (queue:manage); the audit trail keeps what it was."""
    require(principal, Permission.QUEUE_MANAGE)
    shift = repo.get_shift(session, shift_id)
    if shift is None:
        raise NotFound(f"shift {shift_id} not found")
    detail = {
        "user_id": shift.user_id,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "queues": list(shift.queue_keys),
    }
    repo.delete(session, shift)
    record(session, principal, "shift.remove", "shift", shift_id, detail)
