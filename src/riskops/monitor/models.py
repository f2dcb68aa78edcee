"""Tables of the monitor: decision log, alerts, holds, checkpoints, the account timeline.

Account restrictions, which the monitor reads, are the accounts package's
(``riskops.accounts.models``).

A decision, its alerts and its hold are written in the same transaction as the checkpoint
that says the event was processed (an outbox). Unique keys make every write idempotent,
so replaying part of the event log after a restart never duplicates a row.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, ExactDecimal, UtcDateTime, str_enum


class DecisionOutcome(enum.StrEnum):
    """What the monitor decided for a row (the labels of ``riskops.rules.types.Action``)."""

    ALLOW = "allow"
    REVIEW = "review"
    HOLD = "hold"
    BLOCK = "block"


class HoldStatus(enum.StrEnum):
    HELD = "held"
    RELEASED = "released"
    REJECTED = "rejected"


def opens_case(shadow: bool, action: DecisionOutcome | str | None) -> bool:
    """Whether a monitor alert opens a case: a live hit that acts. A shadow hit changes
    nothing; an allow hit (the anomaly's) is a signal, shown on cases, opening none (ADR
    0039). ``action`` may be the stored text (a decision's reasons keep it so).
    ``Alert.opens_case`` is this rule on a row, in Python and in SQL."""
    return not shadow and action != DecisionOutcome.ALLOW


class Decision(Base):
    """One decision of the monitor on one flat row (the decision log)."""

    __tablename__ = "monitor_decisions"
    __table_args__ = (
        UniqueConstraint("event_id", "row", name="uq_monitor_decisions_event_row"),
        Index("ix_monitor_decisions_account_seq", "account_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128))
    row: Mapped[int] = mapped_column(SmallInteger, default=0)
    account_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[DecisionOutcome] = mapped_column(str_enum(DecisionOutcome, "monitor_outcome"))
    score: Mapped[int] = mapped_column(Integer)
    # [{rule_id, action, score, reason}], strongest first.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    latency_us: Mapped[int] = mapped_column(Integer)


class Alert(Base):
    """A rule hit (live or shadow): alert source 1 for cases; one per rule, event and row."""

    __tablename__ = "monitor_alerts"
    __table_args__ = (
        UniqueConstraint("rule_id", "event_id", "row", name="uq_monitor_alerts_rule_event_row"),
        Index("ix_monitor_alerts_account_seq", "account_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    typology: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    row: Mapped[int] = mapped_column(SmallInteger, default=0)
    account_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[DecisionOutcome] = mapped_column(
        str_enum(DecisionOutcome, "monitor_alert_action")
    )
    score: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @hybrid_property
    def opens_case(self) -> bool:
        """Whether this alert opens a case (the module's ``opens_case``); in a query, the
        same rule as a column expression (``.where(Alert.opens_case)``)."""
        return opens_case(self.shadow, self.action)

    @opens_case.inplace.expression
    @classmethod
    def _opens_case_sql(cls) -> ColumnElement[bool]:
        # The SQL twin of the module's ``opens_case``: keep the two the same rule.
        return and_(cls.shadow.is_(False), cls.action != DecisionOutcome.ALLOW)


class Hold(Base):
    """A withdrawal held for an analyst: released or rejected, with a note."""

    __tablename__ = "monitor_holds"
    __table_args__ = (Index("ix_monitor_holds_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    withdrawal_id: Mapped[str | None] = mapped_column(String(128))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(38, 18))
    usd_value: Mapped[Decimal] = mapped_column(ExactDecimal(20, 2))
    status: Mapped[HoldStatus] = mapped_column(str_enum(HoldStatus, "monitor_hold_status"))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # who approved the resolution when it was part of a four-eyes case decision (ADR 0019);
    # resolved_by is then the maker, who chose release or reject
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class MonitorCheckpoint(Base):
    """How far in the event log (by seq) a monitor has durably processed."""

    __tablename__ = "monitor_checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountEvent(Base):
    """The account timeline: which events (by seq) are an account's own, newest last.

    A read model of the log kept by the monitor, written in each batch's transaction with
    its checkpoint, so it holds every event up to the checkpoint; readers add the log's
    tail after it (``monitor.repository.account_seqs``). The log itself carries no
    account index: each event's insert would be a random B-tree insert on the bulk
    ingestion path (ADR 0013).
    """

    __tablename__ = "account_events"
    __table_args__ = ({"sqlite_with_rowid": False},)

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
