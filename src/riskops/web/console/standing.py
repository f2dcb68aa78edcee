"""The standing of the accounts a page lists (who else used a value, linked accounts, name
search): active restrictions, offboarded, referred for a SAR, rating band. A fixed three
queries for a whole page, whatever its length."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskops.accounts import rating as ratings
from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.cases.models import Case, CaseOutcome


@dataclass(frozen=True, slots=True)
class Standing:
    restrictions: list[str]  # active restriction kinds
    offboarded: bool  # an active account_closed restriction
    sar: bool  # a case about the account ended referred for a SAR
    band: str | None  # rating band, None: never rated


def sar_referred(session: Session, account_ids: Collection[str]) -> set[str]:
    """The accounts of ``account_ids`` a case referred for a SAR."""
    if not account_ids:
        return set()
    stmt = (
        select(Case.account_id)
        .where(Case.account_id.in_(list(account_ids)), Case.outcome == CaseOutcome.SAR_REFERRED)
        .distinct()
    )
    return {a for a in session.scalars(stmt) if a is not None}


def standings(session: Session, account_ids: Collection[str]) -> dict[str, Standing]:
    """Each account's standing (every account of ``account_ids`` has one)."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return {}
    kinds = accounts.active_kinds(session, ids)
    bands = ratings.current_many(session, ids)
    sar = sar_referred(session, ids)
    out: dict[str, Standing] = {}
    for account_id in ids:
        active = kinds.get(account_id, set())
        out[account_id] = Standing(
            sorted(str(k) for k in active),
            RestrictionKind.ACCOUNT_CLOSED in active,
            account_id in sar,
            str(bands[account_id].band) if account_id in bands else None,
        )
    return out
