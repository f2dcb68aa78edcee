"""Tables of quality assurance: the sampling plan (versioned), the sampler's cursor and the
samples with their second review.

A plan is never edited: saving one inserts the next version, so a sample names the plan
that drew it and a test can recompute the draw. A case is sampled at most once (a unique
case id); the sample keeps what the case was when it was drawn (who decided it, its outcome,
its queue, the rules of its alerts), so a later reopening of the case does not rewrite the
agreement figures of a past period.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskops.cases.models import Case
from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime, str_enum

# The sampler's read path on the cases table: closed cases after its (closed_at, id) cursor.
# It lives with the sampler (migration 0021), the only reader; closed_at is NULL on every
# open case (a reopen clears it), so the index holds the closed ones in closing order.
Index("ix_cases_closed_at", Case.closed_at, Case.id)


class SampleStatus(enum.StrEnum):
    WAITING = "waiting"  # in the QA queue, nobody has it
    TAKEN = "taken"  # a reviewer took it (or was given it)
    REVIEWED = "reviewed"


class Verdict(enum.StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"


class Plan(Base):
    """One version of the sampling plan; the highest id is the current one.

    A closed case's sampling rate is the highest of the rates that apply to it: the base
    rate, its outcome's, its queue's, and its analyst's (their own, else the new-analyst
    rate while they are new). Each rate is a floor: "every offboarding" is an outcome rate
    of 1, "10 % of dismissals" an outcome rate of 0.1 with a base rate at or below it.
    """

    __tablename__ = "qa_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)  # the version
    base_rate: Mapped[float] = mapped_column(Float)
    outcome_rates: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    queue_rates: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    analyst_rates: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # username
    new_analyst_rate: Mapped[float] = mapped_column(Float)
    new_analyst_days: Mapped[int] = mapped_column(Integer)  # new: account younger than this
    seed: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Cursor(Base):
    """How far the sampler has read the closed cases: (closed_at, case id) of the last one."""

    __tablename__ = "qa_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    case_id: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Sample(Base):
    """A closed case drawn for a second review, and that review once done."""

    __tablename__ = "qa_samples"
    __table_args__ = (
        # the QA queue: waiting and taken samples, oldest first.
        Index("ix_qa_samples_queue", "status", "sampled_at", "id"),
        # agreement over a period, and an analyst's disagreements on "My work".
        Index("ix_qa_samples_reviewed", "reviewed_at"),
        Index("ix_qa_samples_analyst", "analyst", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("qa_plans.id"))
    rate: Mapped[float] = mapped_column(Float)  # the case's rate under the plan
    why: Mapped[list[str]] = mapped_column(JSON, default=list)  # the rules that set the rate
    # The case as it was when drawn.
    analyst: Mapped[str] = mapped_column(String(128))  # who decided it (the maker)
    approver: Mapped[str | None] = mapped_column(String(128), nullable=True)  # four-eyes
    outcome: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queue_key: Mapped[str] = mapped_column(String(32))
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)  # rule ids of its alerts
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sampled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[SampleStatus] = mapped_column(str_enum(SampleStatus, "qa_sample_status"))
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)  # taken by
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    verdict: Mapped[Verdict | None] = mapped_column(str_enum(Verdict, "qa_verdict"), nullable=True)
    reviewer_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The analyst saw the disagreement (the "My work" list drops it).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
