"""Write and read the audit trail. Entries are written in the caller's transaction, so an
action and its audit entry commit (or roll back) together; a refused attempt is the
exception: its request rolls back, so its entry is written in a transaction of its own
(``record_refusal``, called by the error renderers). ADR 0020."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from riskops.audit import repository
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Permission, Principal, PrincipalKind, require
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Forbidden

REFUSED = "access.refused"  # the action of a refused attempt's entry
ANONYMOUS = Principal(PrincipalKind.ANONYMOUS, None, "anonymous")


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


def record_views(
    session: Session,
    reader: Principal,
    action: str,
    subject_type: str,
    shown: Mapping[str, Iterable[str | int]],
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """A listing showed personal data: one entry per subject shown (``shown`` maps each
    subject, e.g. an account, to the ids of its rows on the page), so asking the trail who
    saw account X finds the lists that showed it as well as its own page."""
    at = now or utcnow()
    for subject_id, ids in shown.items():
        seen = {**(detail or {}), "ids": [str(i) for i in ids]}
        record(session, reader, action, subject_type, subject_id, seen, now=at)


def record_refusal(
    session: Session,
    actor: Principal | None,
    route: str,
    refusal: Forbidden,
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """A refused attempt (403: a missing permission, a wrong CSRF token, four-eyes): who
    (``anonymous`` when unknown), which route, the permission it needed and why.

    ``session`` must not be the refused request's: that one rolls back.
    """
    detail = {
        **(detail or {}),
        "permission": refusal.permission,
        "reason": refusal.message,
    }
    record(session, actor or ANONYMOUS, REFUSED, "route", route, detail, now=now)


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
