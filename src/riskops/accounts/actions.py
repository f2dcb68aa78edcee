"""What an analyst does to an account outside a case decision: resolve a held withdrawal,
lift a restriction. Each checks the permission and writes the audit trail in the caller's
transaction; the monitor's service does the change itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.accounts import repository as repo
from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases.models import Case
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import ValidationFailed
from riskops.monitor import service as monitor
from riskops.monitor.models import Hold, Restriction

HOLD_ACTIONS = ("release", "reject")


@dataclass(frozen=True, slots=True)
class HeldWithdrawal:
    hold: Hold
    open_case: Case | None


def held_withdrawals(
    session: Session, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[HeldWithdrawal], int]:
    """Withdrawals waiting for an analyst, oldest first, each with its account's open case;
    and how many are held in all. Three queries, whatever the page size."""
    require(principal, Permission.ACCOUNT_VIEW)
    holds = repo.held_withdrawals(session, limit, offset)
    cases = repo.open_cases_for(session, (h.account_id for h in holds))
    return [HeldWithdrawal(h, cases.get(h.account_id)) for h in holds], repo.count_held(session)


def resolve_hold(
    session: Session,
    principal: Principal,
    hold_id: int,
    action: str,
    note: str,
    *,
    now: datetime | None = None,
) -> Hold:
    """Release or reject a held withdrawal with a note (needs ``hold:resolve``)."""
    require(principal, Permission.HOLD_RESOLVE)
    if action not in HOLD_ACTIONS:
        raise ValidationFailed(f"unknown hold action {action!r}; use release or reject")
    now = now or utcnow()
    hold = monitor.resolve_hold(session, hold_id, action, principal.name, note, now=now)
    detail = {"action": action, "account_id": hold.account_id, "note": hold.note}
    record(session, principal, f"hold.{action}", "hold", hold_id, detail, now=now)
    return hold


def lift_restriction(
    session: Session,
    principal: Principal,
    account_id: str,
    restriction_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Restriction:
    """Lift an active restriction, saying why (needs ``account:restrict``)."""
    require(principal, Permission.ACCOUNT_RESTRICT)
    if not reason.strip():
        raise ValidationFailed(
            "say why the restriction is lifted",
            details=[{"field": "$.reason", "reason": "a reason is required"}],
        )
    now = now or utcnow()
    restriction = monitor.lift_restriction(
        session, account_id, restriction_id, principal.name, now=now
    )
    detail = {"restriction_id": restriction_id, "kind": str(restriction.kind), "reason": reason}
    record(session, principal, "account.lift_restriction", "account", account_id, detail, now=now)
    return restriction
