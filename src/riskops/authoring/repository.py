"""All SQL of the authoring package. Functions take a Session and never commit.

Besides its own table (promotion requests), the workbench reads what other domains wrote:
the monitor's alerts, the case alerts they became and their cases' outcomes, and the event
log. Those reads join several domains' tables, so they live here, above them (as the
account 360 lives in ``investigation``), and only read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from riskops.authoring.models import PromotionRequest, RequestStatus
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, CaseStatus
from riskops.events.models import EventRecord
from riskops.learn.models import Label
from riskops.monitor.models import Alert

# An alert's case decided so: the alert was right (true) or a false positive (false).
POSITIVE = (CaseOutcome.RESTRICTED, CaseOutcome.OFFBOARDED, CaseOutcome.SAR_REFERRED)
NEGATIVE = (CaseOutcome.DISMISSED,)


# --- promotion requests -----------------------------------------------------------------


def add_request(session: Session, row: PromotionRequest) -> PromotionRequest:
    session.add(row)
    session.flush()
    return row


def get_request(
    session: Session, request_id: int, *, lock: bool = False
) -> PromotionRequest | None:
    stmt = select(PromotionRequest).where(PromotionRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def pending(session: Session, limit: int, offset: int = 0) -> tuple[list[PromotionRequest], int]:
    """Pending requests, oldest first, and how many there are."""
    where = PromotionRequest.status == RequestStatus.PENDING.value
    rows = session.scalars(
        select(PromotionRequest)
        .where(where)
        .order_by(PromotionRequest.id)
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(select(func.count()).select_from(PromotionRequest).where(where))
    return list(rows), int(total or 0)


def pending_like(
    session: Session, kind: str, subject_id: str, version: int, target: str
) -> PromotionRequest | None:
    """A pending request for the same change, if one exists."""
    stmt = select(PromotionRequest).where(
        PromotionRequest.status == RequestStatus.PENDING.value,
        PromotionRequest.kind == kind,
        PromotionRequest.subject_id == subject_id,
        PromotionRequest.version == version,
        PromotionRequest.target == target,
    )
    return session.scalars(stmt.limit(1)).first()


def of_subject(session: Session, kind: str, subject_id: str, limit: int) -> list[PromotionRequest]:
    """A rule's (or model's) requests, newest first."""
    stmt = (
        select(PromotionRequest)
        .where(PromotionRequest.kind == kind, PromotionRequest.subject_id == subject_id)
        .order_by(PromotionRequest.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def pending_subjects(session: Session) -> set[tuple[str, str]]:
    """(kind, subject id) of every pending request (for the list's "awaiting approval")."""
    stmt = select(PromotionRequest.kind, PromotionRequest.subject_id).where(
        PromotionRequest.status == RequestStatus.PENDING.value
    )
    return {(k, s) for k, s in session.execute(stmt.distinct())}


# --- alerts and their outcomes ----------------------------------------------------------


def _outcome_join() -> Any:
    """monitor_alerts -> the case alert it became -> its case, when closed."""
    return Alert.__table__.outerjoin(
        CaseAlert.__table__,
        and_(
            CaseAlert.source == AlertSource.MONITOR,
            CaseAlert.source_ref == cast(Alert.id, String),
        ),
    ).outerjoin(
        Case.__table__, and_(Case.id == CaseAlert.case_id, Case.status == CaseStatus.CLOSED)
    )


def _labelled(*where: Any) -> Any:
    """Per alert (filtered by ``where``): 2 when a case of its event (any rule's alert on the
    same event and row; shadow alerts open none) was closed as a true positive, 1 when
    dismissed, 0 otherwise."""
    same = aliased(Alert)
    label = func.max(
        case((Case.outcome.in_(POSITIVE), 2), (Case.outcome.in_(NEGATIVE), 1), else_=0)
    )
    return (
        select(Alert.rule_id, Alert.rule_version, Alert.shadow, label.label("label"))
        .select_from(Alert)
        .outerjoin(same, and_(same.event_id == Alert.event_id, same.row == Alert.row))
        .outerjoin(
            CaseAlert,
            and_(
                CaseAlert.source == AlertSource.MONITOR,
                CaseAlert.source_ref == cast(same.id, String),
            ),
        )
        .outerjoin(Case, and_(Case.id == CaseAlert.case_id, Case.status == CaseStatus.CLOSED))
        .where(*where)
        .group_by(Alert.id, Alert.rule_id, Alert.rule_version, Alert.shadow)
        .subquery()
    )


def _counts(sub: Any) -> tuple[Any, Any, Any]:
    return (
        func.count(),
        func.sum(case((sub.c.label == 2, 1), else_=0)),
        func.sum(case((sub.c.label == 1, 1), else_=0)),
    )


def alert_stats(session: Session, since: datetime) -> list[tuple[str, bool, int, int, int]]:
    """Per rule and shadow flag since ``since``: (rule id, shadow, alerts, true, false)."""
    sub = _labelled(Alert.created_at >= since)
    stmt = select(sub.c.rule_id, sub.c.shadow, *_counts(sub)).group_by(sub.c.rule_id, sub.c.shadow)
    return [
        (r, bool(s), int(n), int(t or 0), int(f or 0)) for r, s, n, t, f in session.execute(stmt)
    ]


def version_stats(
    session: Session, rule_id: str, since: datetime
) -> list[tuple[int, bool, int, int, int]]:
    """Per version of one rule since ``since``: (version, shadow, alerts, true, false)."""
    sub = _labelled(Alert.rule_id == rule_id, Alert.created_at >= since)
    stmt = select(sub.c.rule_version, sub.c.shadow, *_counts(sub)).group_by(
        sub.c.rule_version, sub.c.shadow
    )
    return [
        (v, bool(s), int(n), int(t or 0), int(f or 0)) for v, s, n, t, f in session.execute(stmt)
    ]


def rule_hits(
    session: Session, rule_id: str, since: datetime, until: datetime, limit: int
) -> list[tuple[str, int, bool, int]]:
    """One rule's recorded alerts in a period (at most ``limit``): (event id, row, shadow,
    seq)."""
    stmt = (
        select(Alert.event_id, Alert.row, Alert.shadow, Alert.seq)
        .where(Alert.rule_id == rule_id, Alert.created_at >= since, Alert.created_at < until)
        .order_by(Alert.id)
        .limit(limit)
    )
    return [(e, int(r), bool(s), int(q)) for e, r, s, q in session.execute(stmt)]


def decided_events(
    session: Session, first_seq: int, last_seq: int, limit: int
) -> list[tuple[str, int, str]]:
    """Every alerted (event id, row) in a seq range whose case was decided, with the outcome
    (any rule's alert: an event is a positive if some decided case says so)."""
    stmt = (
        select(Alert.event_id, Alert.row, Case.outcome)
        .select_from(_outcome_join())
        .where(
            Alert.seq >= first_seq,
            Alert.seq <= last_seq,
            Case.outcome.in_(POSITIVE + NEGATIVE),
        )
        .limit(limit)
    )
    return [(e, int(r), str(o)) for e, r, o in session.execute(stmt) if o is not None]


# --- the event log ------------------------------------------------------------------------


def events_between(
    session: Session, start: datetime, end: datetime, after_seq: int, limit: int
) -> list[tuple[int, int | None, str]]:
    """Events that occurred in [start, end) after ``after_seq``, in log order, at most
    ``limit`` (a keyset page): (seq, source_row, payload)."""
    stmt = (
        select(EventRecord.seq, EventRecord.source_row, EventRecord.payload)
        .where(
            EventRecord.seq > after_seq,
            EventRecord.occurred_at >= start,
            EventRecord.occurred_at < end,
        )
        .order_by(EventRecord.seq)
        .limit(limit)
    )
    return [(int(s), r, p) for s, r, p in session.execute(stmt)]


def event_labels(
    session: Session, first_seq: int, last_seq: int, limit: int
) -> list[tuple[str, int, datetime]]:
    """Labels of the events in a seq range (learn's ``labels``, any source):
    (event id, label 1 bad / 0 good, decided at)."""
    stmt = (
        select(Label.subject_id, Label.label, Label.decided_at)
        .join(EventRecord, EventRecord.event_id == Label.subject_id)
        .where(
            Label.subject_kind == "event",
            EventRecord.seq >= first_seq,
            EventRecord.seq <= last_seq,
        )
        .limit(limit)
    )
    return [(e, int(v), at) for e, v, at in session.execute(stmt)]
