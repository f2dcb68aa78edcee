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
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
