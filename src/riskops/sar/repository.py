"""All SQL of SAR work. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from riskops.cases.models import ActionKind, ActionStatus, Case, CaseAction, CaseOutcome
from riskops.sar.models import SarAccount, SarExport, SarReport, SarStatus

_Row = TypeVar("_Row")
_CHUNK = 500  # ids per IN (...) list: well under every driver's bound-parameter limit
# A SAR is being considered for an account while a report about it is in any of these.
CONSIDERED = (SarStatus.DRAFT, SarStatus.AWAITING_APPROVAL, SarStatus.APPROVED, SarStatus.FILED)


def add(session: Session, row: _Row) -> _Row:
    session.add(row)
    session.flush()
    return row


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    items = sorted(set(ids))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def accounts_under_sar(session: Session, account_ids: Collection[str]) -> set[str]:
    """Of ``account_ids``, those for which a SAR is being considered: named by a draft,
    awaiting, approved or filed report, or the account of a case referred for SAR (closed
    with that outcome, or with a REFER_SAR action waiting for its second person).

    The referral half reads the cases tables (the layer below) directly: it is one
    read-only predicate the guard needs in one round trip per chunk."""
    found: set[str] = set()
    for chunk in _chunks(account_ids):
        reports = (
            select(SarAccount.account_id)
            .join(SarReport, SarReport.id == SarAccount.sar_id)
            .where(SarAccount.account_id.in_(chunk), SarReport.status.in_(CONSIDERED))
        )
        referred = select(Case.account_id).where(
            Case.account_id.in_(chunk), Case.outcome == CaseOutcome.SAR_REFERRED
        )
        pending = (
            select(Case.account_id)
            .join(CaseAction, CaseAction.case_id == Case.id)
            .where(
                Case.account_id.in_(chunk),
                CaseAction.kind == ActionKind.REFER_SAR,
                CaseAction.status.in_((ActionStatus.PENDING_APPROVAL, ActionStatus.DONE)),
            )
        )
        for stmt in (reports, referred, pending):
            found.update(a for a in session.scalars(stmt) if a is not None)
    return found


def get(session: Session, sar_id: int, *, for_update: bool = False) -> SarReport | None:
    stmt = select(SarReport).where(SarReport.id == sar_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def of_case(session: Session, case_id: int) -> list[SarReport]:
    stmt = select(SarReport).where(SarReport.case_id == case_id).order_by(SarReport.id.desc())
    return list(session.scalars(stmt))


def listing(
    session: Session,
    *,
    status: SarStatus | None,
    case_id: int | None,
    account_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[SarReport], int]:
    """A page of reports, newest first, and how many match in all."""
    stmt = select(SarReport)
    if status is not None:
        stmt = stmt.where(SarReport.status == status)
    if case_id is not None:
        stmt = stmt.where(SarReport.case_id == case_id)
    if account_id is not None:
        named = select(SarAccount.sar_id).where(SarAccount.account_id == account_id)
        stmt = stmt.where(SarReport.id.in_(named))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(SarReport.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def accounts_of(session: Session, sar_id: int) -> list[str]:
    stmt = select(SarAccount.account_id).where(SarAccount.sar_id == sar_id)
    return sorted(session.scalars(stmt))


def set_accounts(session: Session, sar_id: int, account_ids: Sequence[str]) -> None:
    session.execute(delete(SarAccount).where(SarAccount.sar_id == sar_id))
    session.add_all(SarAccount(sar_id=sar_id, account_id=a) for a in sorted(set(account_ids)))
    session.flush()


def exports_of(session: Session, sar_id: int) -> list[SarExport]:
    stmt = select(SarExport).where(SarExport.sar_id == sar_id).order_by(SarExport.id.desc())
    return list(session.scalars(stmt))


def get_export(session: Session, export_id: int) -> SarExport | None:
    return session.get(SarExport, export_id)


def expired(session: Session, now: datetime, limit: int) -> list[SarReport]:
    """Reports past their retention date, oldest first (legal holds included: the caller
    reports them as kept)."""
    stmt = (
        select(SarReport)
        .where(SarReport.retention_until < now)
        .order_by(SarReport.retention_until, SarReport.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def purge(session: Session, sar_ids: Collection[int]) -> None:
    """Delete the reports and everything they hold (exports, named accounts)."""
    ids = sorted(set(sar_ids))
    if not ids:
        return
    session.execute(delete(SarExport).where(SarExport.sar_id.in_(ids)))
    session.execute(delete(SarAccount).where(SarAccount.sar_id.in_(ids)))
    session.execute(delete(SarReport).where(SarReport.id.in_(ids)))
