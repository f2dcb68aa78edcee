"""Promotion with a second person's approval (four-eyes), for rules and models.

A rule author with ``rule:promote`` asks for a change: a version to shadow or live, a live
or shadow one retired, or a rollback (an earlier, retired version back to live). Nothing
changes until a different person with ``rule:promote`` approves it; only then is
``riskops.rules.service.promote`` (or the model registry's ``set_status``) called, in the
approver's transaction. Anyone with ``rule:promote`` may reject a pending request with a
reason (the requester too: that withdraws it). Every request, approval and rejection is
audited. The version's status is read again at approval: a request made against a status
that has since changed is refused (409), not applied to a different situation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require, require_second_person
from riskops.authoring import model_registry
from riskops.authoring import repository as repo
from riskops.authoring.models import PromotionRequest, RequestStatus, SubjectKind
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.rules import repository as rules_repo
from riskops.rules.service import check_transition, promote
from riskops.rules.types import RuleStatus

MAX_WHY = 2_000
TARGETS = (RuleStatus.SHADOW, RuleStatus.LIVE, RuleStatus.RETIRED)
AUDIT_SUBJECT = "promotion"


def _why(text: str, field: str = "why") -> str:
    text = text.strip()
    if not text:
        raise ValidationFailed(
            "say why", details=[{"field": field, "reason": "a reason is required"}]
        )
    if len(text) > MAX_WHY:
        raise ValidationFailed(
            "the reason is too long",
            details=[{"field": field, "reason": f"at most {MAX_WHY} characters"}],
        )
    return text


def _current_status(session: Session, kind: SubjectKind, subject_id: str, version: int) -> str:
    if kind is SubjectKind.MODEL:
        return model_registry.version_status(session, subject_id, version)
    row = rules_repo.get_version(session, subject_id, version)
    if row is None:
        raise NotFound(f"rule {subject_id} has no version {version}")
    return row.status


def _live_version(session: Session, subject_id: str) -> int | None:
    live = rules_repo.with_status(session, [RuleStatus.LIVE.value], subject_id)
    return live[0].version if live else None


def request_promotion(
    session: Session,
    principal: Principal,
    kind: SubjectKind | str,
    subject_id: str,
    version: int,
    target: RuleStatus | str,
    why: str,
    *,
    rollback: bool = False,
    now: datetime | None = None,
) -> PromotionRequest:
    """Ask for ``subject_id`` v``version`` to become ``target``; pending until a second
    person approves. A rollback asks for an earlier retired version back to live."""
    require(principal, Permission.RULE_PROMOTE)
    kind = SubjectKind(kind)
    try:
        goal = RuleStatus(target)
    except ValueError:
        raise ValidationFailed(
            "unknown target", details=[{"field": "target", "reason": "shadow, live or retired"}]
        ) from None
    if goal not in TARGETS:
        raise ValidationFailed(
            "unknown target", details=[{"field": "target", "reason": "shadow, live or retired"}]
        )
    reason = _why(why)
    current = _current_status(session, kind, subject_id, version)
    check_transition(RuleStatus(current), goal)  # models live the rules' life
    if rollback:
        live = _live_version(session, subject_id) if kind is SubjectKind.RULE else None
        if goal is not RuleStatus.LIVE or current != RuleStatus.RETIRED.value:
            raise Conflict("a rollback brings a retired version back to live")
        if live is not None and version >= live:
            raise Conflict(f"a rollback goes to a version earlier than the live one (v{live})")
    if repo.pending_like(session, kind.value, subject_id, version, goal.value) is not None:
        raise Conflict(f"{subject_id} v{version} to {goal} is already waiting for approval")
    now = now or utcnow()
    row = repo.add_request(
        session,
        PromotionRequest(
            kind=kind.value,
            subject_id=subject_id,
            version=version,
            target=goal.value,
            rollback=rollback,
            from_status=current,
            status=RequestStatus.PENDING.value,
            requested_by=principal.name,
            requested_at=now,
            why=reason,
            decision_why="",
        ),
    )
    record(
        session,
        principal,
        "promotion.request",
        AUDIT_SUBJECT,
        row.id,
        {
            "kind": kind.value,
            "subject_id": subject_id,
            "version": version,
            "from": current,
            "to": goal.value,
            "rollback": rollback,
            "why": reason,
        },
        now=now,
    )
    return row


def _pending(session: Session, request_id: int) -> PromotionRequest:
    row = repo.get_request(session, request_id, lock=True)
    if row is None:
        raise NotFound(f"promotion request {request_id} not found")
    if row.status != RequestStatus.PENDING.value:
        raise Conflict(f"promotion request {request_id} was already {row.status}")
    return row


def approve(
    session: Session,
    principal: Principal,
    request_id: int,
    why: str = "",
    *,
    now: datetime | None = None,
) -> PromotionRequest:
    """Approve a pending request (a different person than its requester) and make the
    change it asks for."""
    require(principal, Permission.RULE_PROMOTE)
    row = _pending(session, request_id)
    require_second_person(principal, row.requested_by, "approve")
    kind = SubjectKind(row.kind)
    current = _current_status(session, kind, row.subject_id, row.version)
    if current != row.from_status:
        raise Conflict(
            f"{row.subject_id} v{row.version} is {current} now, not {row.from_status} as when "
            "asked; reject this request and ask again"
        )
    now = now or utcnow()
    note = why.strip()[:MAX_WHY]
    said = f"request #{row.id} by {row.requested_by}: {row.why}" + (f"; {note}" if note else "")
    if kind is SubjectKind.RULE:
        promote(session, row.subject_id, row.version, row.target, principal.name, said, now)
    else:
        model_registry.set_status(session, principal, row.subject_id, row.version, row.target, said)
    row.status = RequestStatus.APPROVED.value
    return _decided(session, principal, row, "promotion.approve", note, now)


def reject(
    session: Session,
    principal: Principal,
    request_id: int,
    why: str,
    *,
    now: datetime | None = None,
) -> PromotionRequest:
    """Refuse a pending request, with a reason (its requester may withdraw it so)."""
    require(principal, Permission.RULE_PROMOTE)
    reason = _why(why)
    row = _pending(session, request_id)
    now = now or utcnow()
    row.status = RequestStatus.REJECTED.value
    return _decided(session, principal, row, "promotion.reject", reason, now)


def _decided(
    session: Session,
    principal: Principal,
    row: PromotionRequest,
    action: str,
    why: str,
    now: datetime,
) -> PromotionRequest:
    """Record who decided the request (its status already set) and audit it."""
    row.decided_by, row.decided_at, row.decision_why = principal.name, now, why
    session.flush()
    record(
        session,
        principal,
        action,
        AUDIT_SUBJECT,
        row.id,
        {
            "kind": row.kind,
            "subject_id": row.subject_id,
            "version": row.version,
            "to": row.target,
            "requested_by": row.requested_by,
            "why": why,
        },
        now=now,
    )
    return row


def pending_requests(
    session: Session, principal: Principal, limit: int, offset: int = 0
) -> tuple[list[PromotionRequest], int]:
    """Requests waiting for a second person, oldest first, and their number."""
    require(principal, Permission.RULE_AUTHOR)
    return repo.pending(session, limit, offset)


def subject_requests(
    session: Session, principal: Principal, kind: SubjectKind, subject_id: str, limit: int = 50
) -> list[PromotionRequest]:
    """A rule's (or model's) requests, newest first."""
    require(principal, Permission.RULE_AUTHOR)
    return repo.of_subject(session, kind.value, subject_id, limit)
