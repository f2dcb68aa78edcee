"""SQL of the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskops.audit.models import AuditEntry


def entries(
    session: Session,
    *,
    subject_type: str | None,
    subject_id: str | None,
    actor: str | None,
    limit: int,
    before_id: int | None,
) -> Sequence[AuditEntry]:
    """Newest first, filtered; ``before_id`` pages back."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject_type is not None:
        stmt = stmt.where(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return session.scalars(stmt).all()
