"""Shapes of the QA API's bodies and answers (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from riskops.cases.models import CaseOutcome
from riskops.kernel.bounds import LongText
from riskops.qa.models import Plan, Sample
from riskops.qa.repository import AgreementRow

Rate = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class OutcomeRate(msgspec.Struct, forbid_unknown_fields=True):
    outcome: CaseOutcome
    rate: Rate


class QueueRate(msgspec.Struct, forbid_unknown_fields=True):
    queue: Key
    rate: Rate


class AnalystRate(msgspec.Struct, forbid_unknown_fields=True):
    analyst: Key  # a username
    rate: Rate


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new version of the sampling plan. Each rate is a share of closed cases in [0, 1];
    a case's rate is the highest that applies to it (base, its outcome's, its queue's, its
    analyst's or, while the analyst is new, ``new_analyst_rate``)."""

    base_rate: Rate
    outcome_rates: list[OutcomeRate] = []
    queue_rates: list[QueueRate] = []
    analyst_rates: list[AnalystRate] = []
    new_analyst_rate: Rate = 0.0
    new_analyst_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 90
    seed: Annotated[str, msgspec.Meta(max_length=64)] = ""


class PlanOut(msgspec.Struct):
    version: int
    base_rate: float
    outcome_rates: dict[str, float]
    queue_rates: dict[str, float]
    analyst_rates: dict[str, float]
    new_analyst_rate: float
    new_analyst_days: int
    seed: str
    created_by: str
    created_at: datetime


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        version=plan.id,
        base_rate=plan.base_rate,
        outcome_rates=dict(plan.outcome_rates),
        queue_rates=dict(plan.queue_rates),
        analyst_rates=dict(plan.analyst_rates),
        new_analyst_rate=plan.new_analyst_rate,
        new_analyst_days=plan.new_analyst_days,
        seed=plan.seed,
        created_by=plan.created_by,
        created_at=plan.created_at,
    )


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    """A second review: ``agree`` or ``disagree``; ``outcome``, the category the reviewer
    would have chosen (on agree: the case's, the default); ``reason``, required on
    disagree."""

    verdict: Literal["agree", "disagree"]
    outcome: CaseOutcome | None = None
    reason: LongText = ""


class SampleOut(msgspec.Struct):
    id: int
    case_id: int
    plan_version: int
    rate: float
    why: list[str]
    analyst: str
    approver: str | None
    outcome: str
    reason_code: str | None
    queue_key: str
    rules: list[str]
    closed_at: datetime
    sampled_at: datetime
    status: str
    reviewer: str | None
    reviewed_at: datetime | None
    verdict: str | None
    reviewer_outcome: str | None
    reason: str


def sample_out(s: Sample) -> SampleOut:
    return SampleOut(
        id=s.id,
        case_id=s.case_id,
        plan_version=s.plan_id,
        rate=s.rate,
        why=list(s.why),
        analyst=s.analyst,
        approver=s.approver,
        outcome=s.outcome,
        reason_code=s.reason_code,
        queue_key=s.queue_key,
        rules=list(s.rules),
        closed_at=s.closed_at,
        sampled_at=s.sampled_at,
        status=s.status.value,
        reviewer=s.reviewer,
        reviewed_at=s.reviewed_at,
        verdict=s.verdict.value if s.verdict else None,
        reviewer_outcome=s.reviewer_outcome,
        reason=s.reason,
    )


class PassOut(msgspec.Struct):
    """What a sampling pass did."""

    plan_version: int | None
    read: int
    sampled: int
    cursor_closed_at: datetime | None


class AgreementOut(msgspec.Struct):
    key: str
    reviewed: int
    agreed: int
    disagreed: int
    agreement_rate: float | None
    kappa: float | None
    kappa_undefined: str | None


def agreement_out(row: AgreementRow) -> AgreementOut:
    return AgreementOut(
        key=row.key,
        reviewed=row.reviewed,
        agreed=row.agreed,
        disagreed=row.disagreed,
        agreement_rate=row.agreement_rate,
        kappa=row.kappa,
        kappa_undefined=row.kappa_undefined,
    )
