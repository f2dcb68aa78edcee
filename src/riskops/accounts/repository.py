"""All SQL of the accounts package: the account 360, restrictions and account actions.
Functions take the caller's session and never commit.

Every query is bounded (a limit, or a window of 30 days on one account) and finds the
account's events through the monitor's timeline (``account_seqs``): an account page costs a
fixed handful of queries, whatever the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Integer,
    Numeric,
    Select,
    cast,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from riskops.accounts.models import (
    AccountAction,
    AccountActionStatus,
    Restriction,
)
from riskops.cases.models import Case, CaseAlert, CaseStatus
from riskops.events.models import EventRecord
from riskops.monitor.models import AccountEvent, Decision, Hold, HoldStatus
from riskops.monitor.repository import unmonitored

EVENTS = EventRecord.__table__
PROFILE_TYPES = ("account.created", "kyb.submitted", "kyb.decided", "kyc.submitted", "kyc.decided")
FLOW_TYPES = ("deposit", "withdrawal.requested")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def account_seqs(session: Session, account_id: str) -> Select[Any] | CompoundSelect[Any]:
    """The seqs of the account's own events, for ``EVENTS.c.seq.in_(...)``: the monitor's
    timeline (``AccountEvent``) up to its checkpoint, and the log's tail after it, events
    not monitored yet, read by a range of ``seq`` (the log has no account index, ADR 0013).
    Every monitor batch writes the timeline of its events with its checkpoint, so the
    furthest checkpoint bounds what the timeline holds. If the monitor moves on between
    the two reads, an event may be named twice, which ``IN`` ignores; none is missed."""
    timeline = select(AccountEvent.seq).where(AccountEvent.account_id == account_id)
    tail = unmonitored(session)
    if tail is None:
        return timeline
    return union_all(timeline, select(EVENTS.c.seq).where(tail, EVENTS.c.account_id == account_id))


def profile_payloads(session: Session, account_id: str, limit: int = 50) -> list[tuple[str, str]]:
    """``(type, payload)`` of the account's identity events, oldest first."""
    stmt = (
        select(EVENTS.c.type, EVENTS.c.payload)
        .where(
            EVENTS.c.seq.in_(account_seqs(session, account_id)), EVENTS.c.type.in_(PROFILE_TYPES)
        )
        .order_by(EVENTS.c.seq)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.connection().execute(stmt)]


def has_events(session: Session, account_id: str) -> bool:
    stmt = account_seqs(session, account_id).limit(1)
    return session.connection().execute(stmt).first() is not None


def _usd_cents(session: Session) -> ColumnElement[Any]:
    """The event's ``usd_value`` in integer cents, read from the JSON payload (exact)."""
    if _dialect(session) == "postgresql":
        usd = cast(cast(EVENTS.c.payload, JSONB)["usd_value"].astext, Numeric(20, 2))
        return cast(func.round(usd * 100), BigInteger)
    # SQLite reads the decimal text as a double; rounding the cents makes each term exact.
    return cast(func.round(func.json_extract(EVENTS.c.payload, "$.usd_value") * 100), Integer)


def flows_since(session: Session, account_id: str, since: datetime) -> dict[str, tuple[int, int]]:
    """``{type: (count, usd_cents)}`` of deposits and withdrawals since ``since``."""
    stmt = (
        select(EVENTS.c.type, func.count(), func.coalesce(func.sum(_usd_cents(session)), 0))
        .where(
            EVENTS.c.seq.in_(account_seqs(session, account_id)),
            EVENTS.c.type.in_(FLOW_TYPES),
            EVENTS.c.occurred_at >= since,
        )
        .group_by(EVENTS.c.type)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in session.connection().execute(stmt)}


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


def holds_of(session: Session, account_id: str, limit: int = 20) -> list[Hold]:
    """Held withdrawals first, then the most recent resolved ones."""
    held_first = (Hold.status != HoldStatus.HELD).asc()
    stmt = (
        select(Hold)
        .where(Hold.account_id == account_id)
        .order_by(held_first, Hold.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def cases_of(session: Session, account_id: str, limit: int = 20) -> list[Case]:
    """The account's cases, open one first, then newest."""
    open_first = (Case.status == CaseStatus.CLOSED).asc()
    stmt = (
        select(Case)
        .where(Case.account_id == account_id)
        .order_by(open_first, Case.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recent_alerts(session: Session, account_id: str, limit: int = 10) -> list[CaseAlert]:
    stmt = (
        select(CaseAlert)
        .where(CaseAlert.account_id == account_id)
        .order_by(CaseAlert.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def timeline_rows(
    session: Session,
    account_id: str,
    *,
    types: Sequence[str] | None,
    before_seq: int | None,
    limit: int,
) -> list[Any]:
    """``(seq, event_id, type, occurred_at, payload)`` newest first (by ``seq``)."""
    stmt = select(
        EVENTS.c.seq, EVENTS.c.event_id, EVENTS.c.type, EVENTS.c.occurred_at, EVENTS.c.payload
    ).where(EVENTS.c.seq.in_(account_seqs(session, account_id)))
    if types:
        stmt = stmt.where(EVENTS.c.type.in_(list(types)))
    if before_seq is not None:
        stmt = stmt.where(EVENTS.c.seq < before_seq)
    stmt = stmt.order_by(EVENTS.c.seq.desc()).limit(limit)
    return list(session.connection().execute(stmt))


def decisions_for(session: Session, event_ids: Iterable[str]) -> dict[str, Decision]:
    """The monitor's decision on each event (row 0, the event's own row), by event id."""
    ids = list(event_ids)
    if not ids:
        return {}
    stmt = select(Decision).where(Decision.event_id.in_(ids), Decision.row == 0)
    return {d.event_id: d for d in session.scalars(stmt)}


def cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def open_cases_for(session: Session, account_ids: Iterable[str]) -> dict[str, Case]:
    """The open case of each account (at most one each), by account id."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    stmt = select(Case).where(Case.account_id.in_(ids), Case.status != CaseStatus.CLOSED)
    return {c.account_id: c for c in session.scalars(stmt) if c.account_id is not None}


def held_withdrawals(session: Session, limit: int, offset: int) -> list[Hold]:
    """Withdrawals still held, oldest first (the index on status, id serves it)."""
    stmt = (
        select(Hold)
        .where(Hold.status == HoldStatus.HELD)
        .order_by(Hold.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def count_held(session: Session) -> int:
    stmt = select(func.count()).select_from(Hold).where(Hold.status == HoldStatus.HELD)
    return int(session.scalar(stmt) or 0)


# --- restrictions ---------------------------------------------------------------------


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


def active_kinds(
    session: Session, now: datetime, account_ids: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """``(account_id, kind)`` of the active restrictions (light rows, for the monitor)."""
    table = Restriction.__table__
    stmt = select(table.c.account_id, table.c.kind).where(
        table.c.lifted_at.is_(None),
        or_(table.c.expires_at.is_(None), table.c.expires_at > now),
    )
    if account_ids is not None:
        stmt = stmt.where(table.c.account_id.in_(list(account_ids)))
    return [(row[0], row[1]) for row in session.connection().execute(stmt)]


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
