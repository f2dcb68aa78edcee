"""Labels from case outcomes: what analysts decided becomes what models learn from.

A closed case's outcome labels its account and the events its monitor alerts were raised
on (``riskops.learn.labels``, source ``case``):

- **positive (1)**: restricted, offboarded, referred for a SAR (a filed SAR is always
  referred first; the ``sar`` package sits above ``cases`` and is not read here);
- **negative (0)**: dismissed as not suspicious (reason ``false_positive``,
  ``verified_by_customer`` or ``known_behaviour``);
- **unlabelled**: open cases, other outcomes (``resolved``: a hold settled, re-KYC asked)
  and other dismissals (``duplicate``, ``other``), which say nothing of the behaviour.

``label_outcomes`` is an idempotent pass: it reads the cases closed since the newest case
label (at or after: writing a label again changes nothing), in pages of ``limit``, and a
case closed again after a reopen replaces its labels. ``label_pass`` is the periodic form
for ``riskops.worker.case_tasks``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from riskops.cases.models import AlertSource, Case, CaseAlert, CaseOutcome, CaseStatus
from riskops.kernel.db import unit_of_work
from riskops.kernel.logging import get_logger
from riskops.learn.labels import LabelIn, write
from riskops.learn.models import Label

log = get_logger(__name__)

POSITIVE = frozenset({CaseOutcome.RESTRICTED, CaseOutcome.OFFBOARDED, CaseOutcome.SAR_REFERRED})
NOT_SUSPICIOUS = frozenset({"false_positive", "verified_by_customer", "known_behaviour"})
SOURCE = "case"


def label_of(outcome: CaseOutcome | None, reason_code: str | None) -> int | None:
    """1, 0, or None (unlabelled) for a closed case's outcome (a pure rule)."""
    if outcome in POSITIVE:
        return 1
    if outcome is CaseOutcome.DISMISSED and reason_code in NOT_SUSPICIOUS:
        return 0
    return None


def _since(session: Session) -> datetime | None:
    query = select(func.max(Label.decided_at)).where(Label.source == SOURCE)
    found: datetime | None = session.scalar(query)
    return found


Cursor = tuple[datetime, int]  # (closed_at, case id) of the last case read


def label_outcomes(
    session: Session, after: Cursor | None = None, limit: int = 500
) -> tuple[dict[str, int], Cursor | None]:
    """One page of closed cases as labels: after ``after``, or from the newest case label
    when not given. Returns the counts and the cursor of the next page (None: the end)."""
    query = select(Case).where(Case.status == CaseStatus.CLOSED, Case.closed_at.is_not(None))
    if after is not None:
        at, case_id = after
        query = query.where((Case.closed_at > at) | ((Case.closed_at == at) & (Case.id > case_id)))
    elif (since := _since(session)) is not None:
        query = query.where(Case.closed_at >= since)
    cases = session.scalars(query.order_by(Case.closed_at, Case.id).limit(limit)).all()
    done = {"cases": len(cases), "labelled": 0, "labels": 0}
    labels: list[LabelIn] = []
    decided = [c for c in cases if label_of(c.outcome, c.reason_code) is not None]
    events = _alerted_events(session, [c.id for c in decided])
    for case in decided:
        value = label_of(case.outcome, case.reason_code)
        assert value is not None and case.closed_at is not None
        note = f"case {case.id}: {case.outcome}" + (
            f" ({case.reason_code})" if case.reason_code else ""
        )
        if case.account_id:
            labels.append(LabelIn("account", case.account_id, value, case.closed_at, note))
        labels += [
            LabelIn("event", event_id, value, case.closed_at, note)
            for event_id in events.get(case.id, ())
        ]
        done["labelled"] += 1
    if labels:
        written = write(session, labels, SOURCE, "system:cases.outcomes")
        done["labels"] = written.inserted + written.updated
    last = cases[-1] if len(cases) == limit else None
    cursor = (last.closed_at, last.id) if last is not None and last.closed_at else None
    return done, cursor


def _alerted_events(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(case_ids), 500):
        query = select(CaseAlert.case_id, CaseAlert.detail).where(
            CaseAlert.case_id.in_(case_ids[start : start + 500]),
            CaseAlert.source == AlertSource.MONITOR,
        )
        for case_id, detail in session.execute(query):
            event_id = (detail or {}).get("event_id")
            if case_id is not None and isinstance(event_id, str) and event_id:
                ids = out.setdefault(case_id, [])
                if event_id not in ids:
                    ids.append(event_id)
    return out


def label_pass(sessions: sessionmaker[Session], limit: int = 500) -> None:
    """``label_outcomes`` page after page (each its own transaction) to the last closed
    case; an error is logged, never fatal (the next pass starts again from the newest
    case label, and writing a label again changes nothing)."""
    totals: dict[str, Any] = {"cases": 0, "labelled": 0, "labels": 0}
    cursor: Cursor | None = None
    try:
        while True:
            with unit_of_work(sessions) as session:
                done, cursor = label_outcomes(session, cursor, limit)
            for key, value in done.items():
                totals[key] += value
            if cursor is None:
                break
    except Exception as exc:
        log.error("cases.outcome_labels_failed", error=repr(exc))
        return
    if totals["labels"]:
        log.info("cases.outcome_labels", **totals)
