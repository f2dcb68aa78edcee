"""All SQL of QA: plans, the sampler's cursor and its read of newly closed cases, the QA
queue, and the agreement figures (``agreement``, which the reports page reads).

The sampler reads the case tables directly (closed cases, their closing action, the rule ids
of their alerts): one read, in batches, of rows the cases domain no longer changes once a
case is closed; nothing here writes to them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.cases.models import (
    ActionStatus,
    AlertSource,
    Case,
    CaseAction,
    CaseAlert,
    CaseStatus,
)
from riskops.qa.domain import Kappa, cohen_kappa
from riskops.qa.models import Cursor, Plan, Sample, SampleStatus, Verdict

CURSOR = "sampler"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
By = Literal["analyst", "rule"]


# --- plans and the cursor -----------------------------------------------------------------


def current_plan(session: Session) -> Plan | None:
    return session.scalars(select(Plan).order_by(Plan.id.desc()).limit(1)).first()


def get_plan(session: Session, plan_id: int) -> Plan | None:
    return session.get(Plan, plan_id)


def add(session: Session, row: Any) -> None:
    session.add(row)
    session.flush()


def cursor(session: Session) -> tuple[datetime, int]:
    """The cursor, locked for the pass (PostgreSQL): two passes at once read it in turn."""
    row = session.scalars(
        select(Cursor).where(Cursor.name == CURSOR).with_for_update()
    ).one_or_none()
    return (row.closed_at, row.case_id) if row else (EPOCH, 0)


def move_cursor(session: Session, closed_at: datetime, case_id: int, now: datetime) -> None:
    row = session.get(Cursor, CURSOR)
    if row is None:
        session.add(Cursor(name=CURSOR, closed_at=closed_at, case_id=case_id, updated_at=now))
    else:
        row.closed_at, row.case_id, row.updated_at = closed_at, case_id, now
    session.flush()


# --- what the sampler reads -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedCase:
    """A closed case as the sampler sees it."""

    id: int
    closed_at: datetime
    outcome: str
    reason_code: str | None
    queue_key: str
    analyst: str  # the maker of the closing decision
    approver: str | None  # its four-eyes approver, if another person


def closed_after(
    session: Session, after: tuple[datetime, int], until: datetime, limit: int
) -> list[ClosedCase]:
    """Closed cases after the cursor (by closed_at, then id) and closed no later than
    ``until``, oldest first, each with who decided it (its last executed action's maker and
    approver; the actor of its closing event when no action closed it)."""
    rows = session.execute(
        select(Case.id, Case.closed_at, Case.outcome, Case.reason_code, Case.queue_key)
        .where(
            Case.status == CaseStatus.CLOSED,
            Case.closed_at.is_not(None),
            Case.closed_at <= until,
            tuple_(Case.closed_at, Case.id) > tuple_(after[0], after[1]),
        )
        .order_by(Case.closed_at, Case.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    makers: dict[int, tuple[str, str | None]] = {}
    for case_id, maker, approver in session.execute(
        select(CaseAction.case_id, CaseAction.requested_by, CaseAction.decided_by)
        .where(
            CaseAction.case_id.in_([r[0] for r in rows]),
            CaseAction.status == ActionStatus.DONE,
        )
        .order_by(CaseAction.id)
    ):
        makers[case_id] = (maker, approver if approver != maker else None)
    return [
        ClosedCase(
            id=case_id,
            closed_at=closed_at or EPOCH,  # not None: filtered above
            outcome=outcome.value if outcome else "",
            reason_code=reason_code,
            queue_key=queue_key,
            analyst=makers.get(case_id, ("", None))[0],
            approver=makers.get(case_id, ("", None))[1],
        )
        for case_id, closed_at, outcome, reason_code, queue_key in rows
    ]


def rules_of(session: Session, case_ids: Collection[int]) -> dict[int, list[str]]:
    """The rule ids of each case's monitor alerts (sorted, distinct)."""
    found: dict[int, set[str]] = {}
    for case_id, kind in session.execute(
        select(CaseAlert.case_id, CaseAlert.kind)
        .where(CaseAlert.case_id.in_(case_ids), CaseAlert.source == AlertSource.MONITOR)
        .distinct()
    ):
        if case_id is not None:
            found.setdefault(case_id, set()).add(kind)
    return {case_id: sorted(kinds) for case_id, kinds in found.items()}


def users_created(session: Session, usernames: Collection[str]) -> dict[str, datetime]:
    """When each named user was created (to tell new analysts)."""
    rows = session.execute(
        select(User.username, User.created_at).where(User.username.in_(usernames))
    )
    return {username: created_at for username, created_at in rows}


def sampled_case_ids(session: Session, case_ids: Collection[int]) -> set[int]:
    return set(session.scalars(select(Sample.case_id).where(Sample.case_id.in_(case_ids))))


# --- samples ------------------------------------------------------------------------------


def get_sample(session: Session, sample_id: int, *, for_update: bool = False) -> Sample | None:
    stmt = select(Sample).where(Sample.id == sample_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def sample_of_case(session: Session, case_id: int) -> Sample | None:
    return session.scalars(select(Sample).where(Sample.case_id == case_id)).one_or_none()


def queue(
    session: Session, statuses: Sequence[SampleStatus], limit: int, offset: int
) -> list[Sample]:
    """Samples in these states, oldest first."""
    return list(
        session.scalars(
            select(Sample)
            .where(Sample.status.in_(statuses))
            .order_by(Sample.sampled_at, Sample.id)
            .limit(limit)
            .offset(offset)
        )
    )


def count(session: Session, statuses: Sequence[SampleStatus]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Sample).where(Sample.status.in_(statuses)))
        or 0
    )


def disagreements_of(session: Session, analyst: str, limit: int) -> list[Sample]:
    """The analyst's cases a QA reviewer disagreed with and they have not acknowledged yet."""
    return list(
        session.scalars(
            select(Sample)
            .where(
                Sample.analyst == analyst,
                Sample.verdict == Verdict.DISAGREE,
                Sample.acknowledged_at.is_(None),
            )
            .order_by(Sample.reviewed_at.desc(), Sample.id.desc())
            .limit(limit)
        )
    )


# --- agreement ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgreementRow:
    """Agreement of one analyst or one rule over a period.

    ``agreement_rate``: agreed / reviewed (None with no review). ``kappa``: Cohen's kappa of
    the case's outcome against the reviewer's over the outcome categories, None when not
    defined, ``kappa_undefined`` saying why (too few reviews, a single category).
    """

    key: str  # the analyst's username or the rule id
    reviewed: int
    agreed: int
    disagreed: int
    agreement_rate: float | None
    kappa: float | None
    kappa_undefined: str | None
    observed: float | None  # the outcomes' raw agreement (p_o)
    expected: float | None  # chance agreement (p_e)


def agreement(session: Session, since: datetime, until: datetime, *, by: By) -> list[AgreementRow]:
    """Per analyst (``by="analyst"``) or per rule whose alerts were on the case
    (``by="rule"``; a case with several rules counts for each), the reviews done in
    [since, until): reviewed, agreed, agreement rate and Cohen's kappa. Rows by most reviewed
    first, then key. Cases without a monitor alert have no rule row."""
    if by not in ("analyst", "rule"):
        raise ValueError(f"by must be 'analyst' or 'rule', not {by!r}")
    rows = session.execute(
        select(
            Sample.analyst, Sample.rules, Sample.outcome, Sample.reviewer_outcome, Sample.verdict
        )
        .where(
            Sample.status == SampleStatus.REVIEWED,
            Sample.reviewed_at >= since,
            Sample.reviewed_at < until,
            or_(Sample.verdict == Verdict.AGREE, Sample.verdict == Verdict.DISAGREE),
        )
        .order_by(Sample.id)
    ).all()
    groups: dict[str, list[tuple[str, str, Verdict | None]]] = {}
    for analyst, rules, outcome, reviewer_outcome, verdict in rows:
        keys = [analyst] if by == "analyst" else list(rules or [])
        for key in keys:
            groups.setdefault(key, []).append((outcome, reviewer_outcome or outcome, verdict))
    out = [_row(key, reviews) for key, reviews in groups.items()]
    return sorted(out, key=lambda r: (-r.reviewed, r.key))


def _row(key: str, reviews: list[tuple[str, str, Verdict | None]]) -> AgreementRow:
    agreed = sum(1 for *_, v in reviews if v is Verdict.AGREE)
    kappa: Kappa = cohen_kappa((a, b) for a, b, _ in reviews)
    return AgreementRow(
        key=key,
        reviewed=len(reviews),
        agreed=agreed,
        disagreed=len(reviews) - agreed,
        agreement_rate=agreed / len(reviews) if reviews else None,
        kappa=kappa.value,
        kappa_undefined=kappa.undefined,
        observed=kappa.observed,
        expected=kappa.expected,
    )
