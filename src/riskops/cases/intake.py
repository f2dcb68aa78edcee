"""Alert intake: every alert source (monitor, email, SMS, service requests) ends here.

``raise_alert`` stores the alert once per (source, source_ref), routes it to a queue, and
groups it into the account's open case (at most one, by a partial unique index) or opens one.
A duplicate (same account, kind and subject as an alert already in the case) is stored and
linked with ``duplicate_of`` but does not raise the case's severity, amount or count.

Runs in the caller's transaction; never commits. The monitor calls ``intake_monitor_alerts``
inside the transaction of the batch that wrote its alerts, so a crash can neither skip nor
double a case alert (see docs/adr/0008-cases-grouping-and-take-next.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from riskops.cases import repository as repo
from riskops.cases.domain import DEFAULT_QUEUES, priority, route, subject_of
from riskops.cases.models import AlertSource, Case, CaseAlert, CaseEvent, CaseStatus, Queue
from riskops.cases.schemas import AlertIn
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, ValidationFailed

ACTOR = "system:intake"
_RETRIES = 3
# Monitor rule actions that make a case alert (an allow-action hit only scores).
CASE_ACTIONS = frozenset({"review", "hold", "block"})


@dataclass(slots=True)
class IntakeResult:
    """The stored alert and its case; flags say whether this call created them."""

    alert: CaseAlert
    case: Case
    created_alert: bool
    created_case: bool


def ensure_default_queues(session: Session) -> None:
    """Create the default queues that do not exist yet (idempotent; settings are kept)."""
    repo.insert_queues_ignore(
        session,
        [
            {
                "key": q.key,
                "name": q.name,
                "description": q.description,
                "sla_minutes": q.sla_minutes,
                "position": i,
                "active": True,
            }
            for i, q in enumerate(DEFAULT_QUEUES)
        ],
    )


def raise_alert(session: Session, alert: AlertIn, *, now: datetime | None = None) -> IntakeResult:
    """Store an alert and group it into its account's open case, or open a case.

    The same (source, source_ref) again returns the stored rows and changes nothing. On
    PostgreSQL, a concurrent transaction that opened the account's case (or stored the same
    alert) first makes this one retry and join it.
    """
    _validate(alert)
    now = now or utcnow()
    for _ in range(_RETRIES):
        existing = repo.alert_by_ref(session, alert.source, alert.source_ref)
        if existing is not None:
            case = repo.get_case(session, existing.case_id) if existing.case_id else None
            if case is None:  # pragma: no cover - every stored alert has a case
                raise Conflict(f"alert {existing.id} has no case")
            return IntakeResult(existing, case, False, False)
        try:
            with repo.savepoint(session):
                return _intake(session, alert, now)
        except repo.Raced:
            continue
    raise Conflict(f"alert {alert.source}:{alert.source_ref} kept losing races; retry")


def intake_monitor_alerts(
    session: Session, rows: Iterable[Mapping[str, Any]], *, now: datetime | None = None
) -> int:
    """Turn the monitor's alert rows of a batch into case alerts; returns how many are new.

    ``rows`` are the ``monitor_alerts`` rows of the batch, each with ``usd_value`` (the
    event's USD value, or None), ``event_type`` and ``hold_id`` (when the decision held the
    withdrawal) added. Shadow hits and allow-action hits are skipped. A replayed batch finds
    its alerts stored (one query) and changes nothing.
    """
    now = now or utcnow()
    wanted = {_monitor_ref(r): r for r in rows if not r["shadow"] and _action(r) in CASE_ACTIONS}
    if not wanted:
        return 0
    stored = repo.existing_refs(session, AlertSource.MONITOR, list(wanted))
    created = 0
    for ref, row in wanted.items():
        if ref not in stored:
            created += raise_alert(session, monitor_alert_in(ref, row), now=now).created_alert
    return created


def monitor_alert_in(ref: str, row: Mapping[str, Any]) -> AlertIn:
    detail: dict[str, Any] = {
        "rule_id": row["rule_id"],
        "rule_version": row["rule_version"],
        "rule_action": _action(row),
        "event_id": row["event_id"],
        "row": row["row"],
        "seq": row["seq"],
    }
    if row.get("event_type"):
        detail["event_type"] = row["event_type"]
    if row.get("hold_id") is not None:
        detail["hold_id"] = row["hold_id"]
    usd = row.get("usd_value")
    return AlertIn(
        source=AlertSource.MONITOR,
        source_ref=ref,
        account_id=row["account_id"],
        kind=row["rule_id"],
        title=f"{row['rule_id']}: {row['reason']}"[:256],
        severity=int(row["score"]),
        typology=row.get("typology"),
        amount_usd=Decimal(usd) if usd is not None else Decimal(0),
        reason=row["reason"],
        detail=detail,
        occurred_at=row.get("occurred_at") or row.get("created_at"),
    )


def _monitor_ref(row: Mapping[str, Any]) -> str:
    if row.get("id") is not None:
        return str(row["id"])
    return f"{row['rule_id']}:{row['event_id']}:{row['row']}"


def _action(row: Mapping[str, Any]) -> str:
    return str(getattr(row["action"], "value", row["action"]))


# --- internals ------------------------------------------------------------------------


def _validate(alert: AlertIn) -> None:
    problems = []
    if not alert.source_ref.strip():
        problems.append({"field": "$.source_ref", "reason": "the source's own id is required"})
    if not alert.kind.strip():
        problems.append({"field": "$.kind", "reason": "required"})
    if not alert.title.strip():
        problems.append({"field": "$.title", "reason": "required"})
    if not 0 <= alert.severity <= 100:
        problems.append({"field": "$.severity", "reason": "must be between 0 and 100"})
    if alert.amount_usd < 0:
        problems.append({"field": "$.amount_usd", "reason": "must not be negative"})
    if alert.account_id is not None and not alert.account_id.strip():
        problems.append({"field": "$.account_id", "reason": "empty; use null when unlinked"})
    if alert.occurred_at is not None and alert.occurred_at.tzinfo is None:
        problems.append({"field": "$.occurred_at", "reason": "must carry a UTC offset"})
    if problems:
        raise ValidationFailed("invalid alert", details=problems)


def _queue(session: Session, key: str) -> Queue:
    queue = repo.get_queue(session, key)
    if queue is None:
        ensure_default_queues(session)
        queue = repo.get_queue(session, key)
    if queue is None:
        raise ValidationFailed(
            "unknown queue", details=[{"field": "$.queue_key", "reason": f"no queue {key!r}"}]
        )
    return queue


def _intake(session: Session, alert: AlertIn, now: datetime) -> IntakeResult:
    detail = dict(alert.detail)
    key = alert.queue_key or route(
        source=alert.source.value,
        account_id=alert.account_id,
        kind=alert.kind,
        typology=alert.typology,
        detail=detail,
    )
    queue = _queue(session, key)
    row = CaseAlert(
        source=alert.source,
        source_ref=alert.source_ref,
        account_id=alert.account_id,
        kind=alert.kind,
        typology=alert.typology,
        severity=alert.severity,
        amount_usd=alert.amount_usd,
        title=alert.title[:256],
        reason=alert.reason,
        detail=detail,
        occurred_at=alert.occurred_at or now,
        received_at=now,
    )
    case = None
    if alert.account_id is not None:
        case = repo.open_case_of(session, alert.account_id, for_update=True)
    if case is None:
        case = _open_case(session, row, queue, now)
        return IntakeResult(row, case, True, True)
    _join(session, case, row, queue, now)
    return IntakeResult(row, case, True, False)


def _open_case(session: Session, row: CaseAlert, queue: Queue, now: datetime) -> Case:
    case = repo.add(
        session,
        Case(
            account_id=row.account_id,
            queue_key=queue.key,
            status=CaseStatus.NEW,
            title=row.title,
            typology=row.typology,
            severity=row.severity,
            amount_at_risk_usd=row.amount_usd,
            priority=priority(row.severity, row.amount_usd, queue.sla_minutes),
            alert_count=1,
            opened_at=now,
            due_at=now + timedelta(minutes=queue.sla_minutes),
            updated_at=now,
            version=1,
        ),
    )
    row.case_id = case.id
    repo.add(session, row)
    _event(session, case, "opened", now, to_status=CaseStatus.NEW, detail=_facts(row))
    return case


def _join(session: Session, case: Case, row: CaseAlert, queue: Queue, now: datetime) -> None:
    alerts = [a for a in repo.alerts_of(session, case.id) if a.duplicate_of is None]
    subject = subject_of(row.detail)
    original = None
    if subject is not None:
        original = next(
            (a for a in alerts if a.kind == row.kind and subject_of(a.detail) == subject), None
        )
    row.case_id = case.id
    if original is not None:
        row.duplicate_of = original.id
        repo.add(session, row)
        detail = {**_facts(row), "duplicate_of": original.id}
        _event(session, case, "duplicate_merged", now, detail=detail)
        return
    repo.add(session, row)
    case.alert_count += 1
    case.severity = max(case.severity, row.severity)
    # Money at risk counts each subject once: two rules on one withdrawal are one amount.
    if subject is None or all(subject_of(a.detail) != subject for a in alerts):
        case.amount_at_risk_usd = case.amount_at_risk_usd + row.amount_usd
    case.typology = case.typology or row.typology
    _event(session, case, "alert_added", now, detail=_facts(row))
    current = _queue(session, case.queue_key)
    if queue.sla_minutes < current.sla_minutes:
        due = min(case.due_at, now + timedelta(minutes=queue.sla_minutes))
        detail = {"from": current.key, "to": queue.key, "alert_id": row.id}
        _event(session, case, "moved_queue", now, reason="shorter SLA alert", detail=detail)
        case.queue_key, case.due_at, current = queue.key, due, queue
    case.priority = priority(case.severity, case.amount_at_risk_usd, current.sla_minutes)
    case.updated_at = now
    case.version += 1
    session.flush()


def _facts(row: CaseAlert) -> dict[str, Any]:
    return {
        "alert_id": row.id,
        "source": row.source.value,
        "kind": row.kind,
        "severity": row.severity,
        "amount_usd": str(row.amount_usd),
    }


def _event(
    session: Session,
    case: Case,
    kind: str,
    now: datetime,
    *,
    to_status: CaseStatus | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            actor=ACTOR,
            kind=kind,
            from_status=None,
            to_status=to_status.value if to_status else None,
            reason=reason,
            detail=detail or {},
        )
    )
