"""Database rows of the learn package: model versions, their status changes, and labels.

A version's ``artifact`` is the whole trained model (LightGBM's model text, the calibration,
the feature names, the threshold) as msgpack (``riskops.learn.model.Artifact``): the registry
row is the one place a model lives, never a file. ``status`` follows the rules' life
(draft -> shadow -> live -> retired); each change is appended to ``model_events``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime


class ModelVersion(Base):
    """One trained version of one model."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    threshold: Mapped[float] = mapped_column(Float)
    # the training data's span: the first and last event time it saw (train + validation)
    span_first: Mapped[datetime] = mapped_column(UtcDateTime)
    span_last: Mapped[datetime] = mapped_column(UtcDateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    trained_at: Mapped[datetime] = mapped_column(UtcDateTime)
    trained_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")


class ModelEvent(Base):
    """An append-only record of a model version's status change."""

    __tablename__ = "model_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(128))
    why: Mapped[str] = mapped_column(Text, default="")


class Label(Base):
    """What is known of one subject (an event or an account) from one source: 1 bad, 0 good."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", "source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # event | account
    subject_id: Mapped[str] = mapped_column(String(128), index=True)
    label: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(16))  # amlworld | sim | case | import
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
