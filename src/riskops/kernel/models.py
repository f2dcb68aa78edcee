"""Tables of the kernel, shared by every domain: the outbox of domain messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime


class OutboxMessage(Base):
    """A message one domain leaves for another, written in the transaction of the change it
    tells of (``riskops.kernel.outbox``); the subscriber takes it by topic and deletes it in
    the transaction that acts on it, so the two domains agree without importing each other.
    """

    __tablename__ = "kernel_outbox"
    __table_args__ = (Index("ix_kernel_outbox_topic_id", "topic", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
