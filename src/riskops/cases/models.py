"""Tables of case work: alerts (from four sources), cases, case events, notes, actions,
queues and shifts.

An alert is unique on (source, source_ref), so receiving the same alert twice (a replayed
monitor batch, an email re-imported, a provider retry) never creates a second row. At most one
case per account is open at a time (a partial unique index), so new alerts about an account
join its open case instead of queueing again.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, ExactDecimal, UtcDateTime, str_enum


class AlertSource(enum.StrEnum):
    MONITOR = "monitor"
    EMAIL = "email"
    SMS = "sms"
    SERVICE_REQUEST = "service_request"
    SCREENING = "screening"  # a sanctions / PEP screening hit (riskops.screening)


class CaseStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_REVIEW = "in_review"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_APPROVAL = "waiting_approval"
    CLOSED = "closed"


class CaseOutcome(enum.StrEnum):
    """How a case ended."""

    DISMISSED = "dismissed"  # legitimate, with a reason code
    RESTRICTED = "restricted"
    OFFBOARDED = "offboarded"
    SAR_REFERRED = "sar_referred"
    RESOLVED = "resolved"  # hold released/rejected, re-KYC required, request answered


class ActionKind(enum.StrEnum):
    DISMISS = "dismiss"
    RESTRICT = "restrict"
    LIFT_RESTRICTION = "lift_restriction"
    RELEASE_HOLD = "release_hold"
    REJECT_HOLD = "reject_hold"
    REQUIRE_REKYC = "require_rekyc"
    OFFBOARD = "offboard"
    ESCALATE = "escalate"
    REQUEST_INFO = "request_info"
    REFER_SAR = "refer_sar"


class ActionStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    DONE = "done"
    REFUSED = "refused"  # the approver said no


class Queue(Base):
    """A work queue with its SLA: held withdrawals 15 min, account takeover 1 h, AML 24 h, ..."""

    __tablename__ = "case_queues"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    sla_minutes: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order on the overview
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Case(Base):
    """One investigation about one account (or, for triage, about no account yet)."""

    __tablename__ = "cases"
    __table_args__ = (
        # take-next and the queue page: open cases of a queue by priority, then time left.
        Index("ix_cases_queue_open", "queue_key", "status", "priority", "due_at"),
        Index("ix_cases_assignee_status", "assignee_id", "status"),
        # one open case per account.
        Index(
            "uq_cases_open_account",
            "account_id",
            unique=True,
            sqlite_where=text("status != 'closed' AND account_id IS NOT NULL"),
            postgresql_where=text("status != 'closed' AND account_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    queue_key: Mapped[str] = mapped_column(ForeignKey("case_queues.key"))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, "case_status"))
    title: Mapped[str] = mapped_column(String(256))
    typology: Mapped[str | None] = mapped_column(String(64), nullable=True)
    severity: Mapped[int] = mapped_column(Integer)  # 0-100, the strongest alert's
    amount_at_risk_usd: Mapped[Decimal] = mapped_column(ExactDecimal(20, 2))
    priority: Mapped[int] = mapped_column(Integer)  # higher first; see cases.domain.priority
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("auth_users.id"), nullable=True)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)  # SLA deadline
    sla_paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    waiting_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[CaseOutcome | None] = mapped_column(
        str_enum(CaseOutcome, "case_outcome"), nullable=True
    )
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic concurrency


_NEW_UNASSIGNED = "status = 'new' AND assignee_id IS NULL"
# take-next: the best waiting case, of every queue (read in order, first row wins) or of one
# queue. Partial, so they hold only the waiting cases; queries must repeat the predicate
# with the literal 'new' for the planner to use them.
Index(
    "ix_cases_take_next",
    Case.priority.desc(),
    Case.due_at,
    Case.id,
    sqlite_where=text(_NEW_UNASSIGNED),
    postgresql_where=text(_NEW_UNASSIGNED),
)
Index(
    "ix_cases_take_next_queue",
    Case.queue_key,
    Case.priority.desc(),
    Case.due_at,
    Case.id,
    sqlite_where=text(_NEW_UNASSIGNED),
    postgresql_where=text(_NEW_UNASSIGNED),
)


class _GroupKey(FunctionElement[str]):
    """The ``group_key`` of an alert's JSON detail as text, in each database's own words."""

    type = String()
    name = "group_key"
    inherit_cache = True


@compiles(_GroupKey)
def _group_key_sqlite(element: _GroupKey, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.clauses, **kw)}, '$.group_key')"


@compiles(_GroupKey, "postgresql")
def _group_key_postgresql(element: _GroupKey, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} ->> 'group_key')"


class CaseAlert(Base):
    """An alert from any of the four sources; grouped into a case (none yet while triaged)."""

    __tablename__ = "case_alerts"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_case_alerts_source_ref"),
        Index("ix_case_alerts_case", "case_id", "id"),
        Index("ix_case_alerts_account", "account_id", "id"),
        # A cluster alert finds its group's open case by this key (ADR 0030); partial: only
        # grouped alerts (a few) are in it.
        Index(
            "ix_case_alerts_group_key",
            "group_key",
            sqlite_where=text("group_key IS NOT NULL"),
            postgresql_where=text("group_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[AlertSource] = mapped_column(str_enum(AlertSource, "case_alert_source"))
    # The source's own id: monitor alert id, email Message-ID, provider signal id, request id.
    source_ref: Mapped[str] = mapped_column(String(256))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(64))  # rule id, sim_swap, dispute, email, ...
    typology: Mapped[str | None] = mapped_column(String(64), nullable=True)
    severity: Mapped[int] = mapped_column(Integer)
    amount_usd: Mapped[Decimal] = mapped_column(ExactDecimal(20, 2))
    title: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text, default="")
    # Source-specific facts: event id and seq, hold id, sender and subject, signal payload...
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # detail["group_key"] (a cluster of linked accounts names its alerts so), computed by
    # the database itself, so writers never set it. Stored: PostgreSQL indexes no virtual
    # column (migration 0017 adds it virtual on SQLite, whose ALTER TABLE adds no stored one).
    group_key: Mapped[str | None] = mapped_column(
        Text, Computed(_GroupKey(literal_column("detail")), persisted=True), nullable=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duplicate_of: Mapped[int | None] = mapped_column(BigId, nullable=True)


class CaseEvent(Base):
    """The append-only history of a case: who, when, from, to, why."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # opened, alert_added, assigned, status, ...
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Note(Base):
    """A decision note in sections; never edited once written (amendments are appended)."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # {summary, evidence, findings, decision, rationale}
    sections: Mapped[dict[str, str]] = mapped_column(JSON)


class NoteAmendment(Base):
    """Text appended to a note after it was written."""

    __tablename__ = "case_note_amendments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("case_notes.id"), index=True)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


class CaseAction(Base):
    """A decision's action on the account or a hold; high-impact ones wait for a second person."""

    __tablename__ = "case_actions"
    __table_args__ = (
        Index("ix_case_actions_case", "case_id", "id"),
        Index("ix_case_actions_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    note_id: Mapped[int] = mapped_column(ForeignKey("case_notes.id"))
    kind: Mapped[ActionKind] = mapped_column(str_enum(ActionKind, "case_action_kind"))
    # restriction kind and expiry, hold id, reason code, due date of an information request...
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus, "case_action_status"))
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the approver
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What executing did: restriction id, hold status, ...
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Shift(Base):
    """An analyst's shift on some queues: who is on duty when (7-day coverage)."""

    __tablename__ = "case_shifts"
    __table_args__ = (Index("ix_case_shifts_time", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    queue_keys: Mapped[list[str]] = mapped_column(JSON)  # empty: every queue


class IntakeOutbox(Base):
    """Case alerts waiting to be taken in (the intake outbox).

    A source that must not do case work inside its own transaction (the monitor, whose batch
    transaction is the decision's critical section) writes its alerts here in that
    transaction; ``cases.alert_intake.drain_outbox`` raises them in id order and deletes them.
    """

    __tablename__ = "case_intake_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert: Mapped[str] = mapped_column(Text)  # an ``AlertIn``, msgspec JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
