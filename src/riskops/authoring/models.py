"""Database rows of the authoring package: promotion requests of rules and models.

A request names what should change (a rule's or a model's version, to shadow, live or
retired; a rollback is an earlier version back to live) and who asked. It stays pending
until a second person with ``rule:promote`` approves it (then the change is made) or
rejects it with a reason. Requests are never deleted: they are the record of who asked and
who approved each change.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime


class SubjectKind(enum.StrEnum):
    RULE = "rule"
    MODEL = "model"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PromotionRequest(Base):
    """One request to change a rule's or a model's version status, and its decision."""

    __tablename__ = "authoring_promotions"
    __table_args__ = (
        # the pending list, oldest first; a subject's history, newest first.
        Index("ix_authoring_promotions_status", "status", "id"),
        Index("ix_authoring_promotions_subject", "kind", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # SubjectKind
    subject_id: Mapped[str] = mapped_column(String(128))  # rule id or model id
    version: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(16))  # shadow | live | retired
    rollback: Mapped[bool] = mapped_column(Boolean, default=False)
    from_status: Mapped[str] = mapped_column(String(16))  # the version's status when asked
    status: Mapped[str] = mapped_column(String(16))  # RequestStatus
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    why: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_why: Mapped[str] = mapped_column(Text, default="")
