"""Write and read the audit trail. Entries are written in the caller's transaction, so an
action and its audit entry commit (or roll back) together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from riskops.audit import repository
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.clock import utcnow


def record(
    session: Session,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: str | int,
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one entry: ``actor`` did ``action`` (``case.view``, ``case.decide``, ...)."""
    session.add(
        AuditEntry(
            at=now or utcnow(),
            actor=actor.name,
            actor_kind=str(actor.kind),
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            detail=detail or {},
        )
    )


def trail(
    session: Session,
    reader: Principal,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> Sequence[AuditEntry]:
    """Newest entries first, filtered; reading the trail needs ``audit:view``."""
    require(reader, Permission.AUDIT_VIEW)
    session.flush()  # autoflush is off: include entries written earlier in this transaction
    return repository.entries(
        session,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        limit=limit,
        before_id=before_id,
    )
