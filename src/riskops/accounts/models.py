"""Tables of account controls: restrictions, and account actions waiting for a second person.

A restriction (withdrawal lock, full freeze, closed account, ...) is what the monitor reads
to block an account's events; it records who asked for it (``created_by``) and, when the
four-eyes policy asked for a second person, who approved it (``approved_by``). An account
action outside a case that needs that second person waits in ``account_actions`` until it is
approved (it then names the restriction it created) or refused. Cases keep their own
pending actions (``cases.models.CaseAction``); both run through ``accounts.service``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskops.events.follow import CursorColumns
from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime, str_enum


class RestrictionKind(enum.StrEnum):
    WITHDRAWAL_LOCK = "withdrawal_lock"
    TRADING_LOCK = "trading_lock"
    P2P_BAN = "p2p_ban"
    API_DISABLE = "api_disable"
    FULL_FREEZE = "full_freeze"
    REKYC_REQUIRED = "rekyc_required"  # withdrawals wait for a new KYC
    ACCOUNT_CLOSED = "account_closed"  # offboarded: everything is blocked


class AccountActionKind(enum.StrEnum):
    """What an action does to an account; the four-eyes policy is stated per kind
    (``riskops.accounts.service.FOUR_EYES``)."""

    RESTRICT = "restrict"  # any restriction but a full freeze or a closure
    FULL_FREEZE = "full_freeze"
    OFFBOARD = "offboard"  # close the account (restriction ``account_closed``)
    LIFT = "lift"


class AccountActionStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"  # carried out: ``restriction_id`` names what it created
    REFUSED = "refused"


class Restriction(Base):
    """An action on an account (withdrawal lock, ...): active until lifted or expired."""

    __tablename__ = "monitor_restrictions"  # the table kept its name when it moved here

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[RestrictionKind] = mapped_column(str_enum(RestrictionKind, "restriction_kind"))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))  # the maker: who asked for it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The second person, when the four-eyes policy asked for one (None: no approval needed).
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)

    def active_at(self, now: datetime) -> bool:
        """In force at ``now``: neither lifted nor expired."""
        return self.lifted_at is None and (self.expires_at is None or self.expires_at > now)


class AccountAction(Base):
    """An action on an account, outside a case, that waits for a second person."""

    __tablename__ = "account_actions"
    __table_args__ = (
        Index("ix_account_actions_status_id", "status", "id"),
        Index("ix_account_actions_account_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[AccountActionKind] = mapped_column(
        str_enum(AccountActionKind, "account_action_kind")
    )
    # {"restriction": kind, "expires_at": ISO time or null}
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(128))  # the maker
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[AccountActionStatus] = mapped_column(
        str_enum(AccountActionStatus, "account_action_status")
    )
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the approver
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    restriction_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_restrictions.id"), nullable=True
    )


# --- risk rating and KYC/KYB review (issue 10) -------------------------------------------


class RatingBand(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    PROHIBITED = "prohibited"


class SignalKind(enum.StrEnum):
    """A fact about an account that the rating weighs, pushed by the domain that knows it."""

    ALERT = "alert"  # a live monitor alert that acts (review, hold, block); severity = score
    HOLD = "hold"  # a withdrawal held by the monitor
    BLOCK = "block"  # an event blocked (a rule's block, or an active restriction)
    CASE_OUTCOME = "case_outcome"  # a closed case: ref = case id, detail = the outcome


class KycReviewKind(enum.StrEnum):
    KYC = "kyc"
    KYB = "kyb"


class KycReviewStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    MORE_INFO = "more_info"  # the customer is asked for more information


class AccountProfile(Base):
    """What the account's own events said of it: the rating's and the KYC checks' facts.

    Kept current from ``account.created``, ``kyc.*``, ``kyb.*`` and phone changes by the
    monitor's batch (``accounts.watch``); one row per account."""

    __tablename__ = "account_profiles"
    __table_args__ = (Index("ix_account_profiles_name_key", "name_key"),)

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)  # declared at sign-up
    phone: Mapped[str | None] = mapped_column(String(256), nullable=True)
    signup_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    corporate: Mapped[bool] = mapped_column(Boolean, default=False)
    kyc_level: Mapped[int] = mapped_column(Integer, default=0)  # the level last approved
    kyc_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kyb_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    nationality: Mapped[str | None] = mapped_column(String(2), nullable=True)
    document_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    kyb_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    # The KYC holder's full name (a KYB's legal name), and its matching key (``name_key``):
    # a beneficial owner of another account is linked to this one by it.
    full_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    name_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountSignal(Base):
    """One fact the rating weighs (an alert, a hold, a block, a case outcome); unique on its
    reference, so a replayed monitor batch or case decision records it once."""

    __tablename__ = "account_signals"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "ref", name="uq_account_signals_ref"),
        Index("ix_account_signals_account_at", "account_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[SignalKind] = mapped_column(str_enum(SignalKind, "account_signal_kind"))
    ref: Mapped[str] = mapped_column(String(256))
    severity: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(String(256), default="")
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountRating(Base):
    """An account's current rating, with its reasons (``accounts.rating``)."""

    __tablename__ = "account_ratings"
    # the monitor's cache of ratings reads those changed since its last batch
    __table_args__ = (Index("ix_account_ratings_computed_at", "computed_at"),)

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[RatingBand] = mapped_column(str_enum(RatingBand, "rating_band"))
    # [{"code", "points", "detail", "prohibits"}], heaviest first
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountRatingChange(Base):
    """Every rating that differed from the one before it: why a band changed, and when."""

    __tablename__ = "account_rating_history"
    __table_args__ = (Index("ix_account_rating_history_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[RatingBand] = mapped_column(str_enum(RatingBand, "rating_band"))
    previous_band: Mapped[RatingBand | None] = mapped_column(
        str_enum(RatingBand, "rating_band"), nullable=True
    )
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    trigger: Mapped[str] = mapped_column(String(64))  # what asked for it: monitor, case, kyc, ...
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class KycReview(Base):
    """A KYC or KYB submission waiting for (or given) an analyst's decision."""

    __tablename__ = "kyc_reviews"
    __table_args__ = (
        Index("ix_kyc_reviews_status_id", "status", "id"),
        Index("ix_kyc_reviews_account_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[KycReviewKind] = mapped_column(str_enum(KycReviewKind, "kyc_review_kind"))
    event_id: Mapped[str] = mapped_column(String(128), unique=True)  # the submission
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the event carried: level, document, name, birth date, nationality; for a KYB the
    # legal name, registration, country and the beneficial owners.
    submission: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The consistency checks: [{"code", "severity", "detail", "subject"}]
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[KycReviewStatus] = mapped_column(str_enum(KycReviewStatus, "kyc_review_status"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AccountsCursor(CursorColumns, Base):
    """How far the accounts follower has read the event log (``riskops.accounts.tasks``)."""

    __tablename__ = "accounts_cursor"
