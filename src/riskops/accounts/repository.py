"""All SQL of the accounts package's controls: restrictions and account actions.
Functions take the caller's session and never commit. (The account 360 reads each domain's
own repository: ``riskops.investigation``.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from riskops.accounts.models import (
    AccountAction,
    AccountActionStatus,
    Restriction,
)

# --- restrictions ---------------------------------------------------------------------


def active_restrictions(session: Session, account_id: str, now: datetime) -> list[Restriction]:
    stmt = (
        select(Restriction)
        .where(
            Restriction.account_id == account_id,
            Restriction.lifted_at.is_(None),
            or_(Restriction.expires_at.is_(None), Restriction.expires_at > now),
        )
        .order_by(Restriction.id)
    )
    return list(session.scalars(stmt))


def add(session: Session, row: Restriction | AccountAction) -> Any:
    """Insert a restriction or an account action; flushed, so its id is known."""
    session.add(row)
    session.flush()
    return row


def get_restriction(
    session: Session, restriction_id: int, *, for_update: bool = False
) -> Restriction | None:
    return session.get(Restriction, restriction_id, with_for_update=for_update or None)


def lift(session: Session, restriction_id: int, actor: str, now: datetime) -> bool:
    """Mark a restriction lifted, unless it was lifted meanwhile (False then): two lifts
    at once cannot both succeed, on SQLite (no row locks) as on PostgreSQL."""
    stmt = (
        update(Restriction)
        .where(Restriction.id == restriction_id, Restriction.lifted_at.is_(None))
        .values(lifted_at=now, lifted_by=actor)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


_RESTRICTION = Restriction.__table__
# Built once: the monitor reads this in every decision transaction, and building the
# statement (and its cache key) cost 5 times its execution on SQLite (about 290 against
# 60 microseconds per call, measured on the decision benchmark's machine).
_ACTIVE_KINDS = select(_RESTRICTION.c.account_id, _RESTRICTION.c.kind).where(
    _RESTRICTION.c.lifted_at.is_(None),
    or_(_RESTRICTION.c.expires_at.is_(None), _RESTRICTION.c.expires_at > bindparam("now")),
)
_ACTIVE_KINDS_OF = _ACTIVE_KINDS.where(
    _RESTRICTION.c.account_id.in_(bindparam("account_ids", expanding=True))
)


def active_kinds(
    session: Session, now: datetime, account_ids: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """``(account_id, kind)`` of the active restrictions (light rows, for the monitor)."""
    if account_ids is None:
        rows = session.connection().execute(_ACTIVE_KINDS, {"now": now})
    else:
        params = {"now": now, "account_ids": list(account_ids)}
        rows = session.connection().execute(_ACTIVE_KINDS_OF, params)
    return [(row[0], row[1]) for row in rows]


def restrictions_of(session: Session, account_id: str, limit: int = 500) -> list[Restriction]:
    """Every restriction of the account, oldest first."""
    stmt = select(Restriction).where(Restriction.account_id == account_id)
    return list(session.scalars(stmt.order_by(Restriction.id).limit(limit)))


# --- account actions (four-eyes outside cases) ----------------------------------------


def get_action(session: Session, action_id: int) -> AccountAction | None:
    return session.get(AccountAction, action_id)


def decide_action(
    session: Session,
    action_id: int,
    status: AccountActionStatus,
    actor: str,
    comment: str | None,
    now: datetime,
) -> bool:
    """Move a pending action to ``status``, unless someone decided it meanwhile (False):
    of two approvers at once, one wins and the other gets a conflict."""
    stmt = (
        update(AccountAction)
        .where(
            AccountAction.id == action_id,
            AccountAction.status == AccountActionStatus.PENDING_APPROVAL,
        )
        .values(status=status, decided_by=actor, decided_at=now, decision_comment=comment)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def list_actions(
    session: Session,
    *,
    status: AccountActionStatus | None,
    account_id: str | None,
    limit: int,
    offset: int = 0,
) -> list[AccountAction]:
    """Account actions, oldest first (the approvals queue reads them in order)."""
    stmt = select(AccountAction)
    if status is not None:
        stmt = stmt.where(AccountAction.status == status)
    if account_id is not None:
        stmt = stmt.where(AccountAction.account_id == account_id)
    return list(session.scalars(stmt.order_by(AccountAction.id).limit(limit).offset(offset)))
