"""What an analyst does to an account outside a case decision, beyond what the monitor's
service offers: held withdrawals with their open cases, and lifting a restriction with a
reason. Resolving a hold is ``riskops.monitor.service.resolve_hold_as``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.accounts import repository as repo
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases.models import Case
from riskops.kernel.errors import ValidationFailed
from riskops.monitor import service as monitor
from riskops.monitor.models import Hold, Restriction


@dataclass(frozen=True, slots=True)
class HeldWithdrawal:
    hold: Hold
    open_case: Case | None


def held_withdrawals(
    session: Session, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[HeldWithdrawal], int]:
    """Withdrawals waiting for an analyst, oldest first, each with its account's open case;
    and how many are held in all. Three queries, whatever the page size. The accounts
    shown are recorded in the audit trail (``hold.list``), as through the API."""
    require(principal, Permission.ACCOUNT_VIEW)
    holds = repo.held_withdrawals(session, limit, offset)
    shown: dict[str, list[int]] = {}
    for hold in holds:
        shown.setdefault(hold.account_id, []).append(hold.id)
    audit.record_views(session, principal, "hold.list", "account", shown)
    cases = repo.open_cases_for(session, (h.account_id for h in holds))
    return [HeldWithdrawal(h, cases.get(h.account_id)) for h in holds], repo.count_held(session)


def lift_restriction(
    session: Session,
    principal: Principal,
    account_id: str,
    restriction_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Restriction:
    """Lift an active restriction, saying why (needs ``account:restrict``); the lifting and
    its audit entry are ``monitor.service.lift_restriction_as``'s."""
    require(principal, Permission.ACCOUNT_RESTRICT)  # refuse before saying what is missing
    if not reason.strip():
        raise ValidationFailed(
            "say why the restriction is lifted",
            details=[{"field": "$.reason", "reason": "a reason is required"}],
        )
    return monitor.lift_restriction_as(
        session, principal, account_id, restriction_id, reason.strip(), now=now
    )
