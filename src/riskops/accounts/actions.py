"""Held withdrawals with their open cases (the holds page). Resolving a hold is
``riskops.monitor.service.resolve_hold``; restricting and lifting are
``riskops.accounts.service``'s."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from riskops.accounts import repository as repo
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases.models import Case
from riskops.monitor.models import Hold


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
