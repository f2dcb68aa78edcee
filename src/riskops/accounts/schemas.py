"""What the account pages show (plain frozen values, no database rows beyond this
package), and the API shapes of restrictions and account actions (msgspec)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from riskops.accounts.models import AccountAction, Restriction, RestrictionKind
from riskops.kernel.bounds import LongText, Name


@dataclass(frozen=True, slots=True)
class Profile:
    """Who the customer is, as the exchange told us (``account.created``, ``kyc.*``)."""

    email: str | None = None
    phone: str | None = None
    country: str | None = None
    created_at: datetime | None = None
    corporate: bool = False
    kyc_level: int | None = None
    kyc_result: str | None = None
    kyc_decided_at: datetime | None = None
    full_name: str | None = None
    nationality: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """Count and USD total of one kind of money movement over a window."""

    count: int = 0
    usd: Decimal = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class RestrictionView:
    id: int
    kind: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    approved_by: str | None = None


@dataclass(frozen=True, slots=True)
class HoldView:
    id: int
    event_id: str
    asset: str
    amount: Decimal
    usd_value: Decimal
    status: str
    created_at: datetime
    resolved_by: str | None
    note: str | None
    reasons: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CaseRef:
    id: int
    queue_key: str
    status: str
    title: str
    priority: int
    opened_at: datetime
    due_at: datetime
    closed_at: datetime | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class AlertRef:
    id: int
    source: str
    kind: str
    title: str
    severity: int
    reason: str
    case_id: int | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The account 360 in one value: enough to decide without opening five tools."""

    account_id: str
    known: bool  # any event about this account at all
    profile: Profile
    deposits_30d: Flow
    withdrawals_30d: Flow
    restrictions: list[RestrictionView]
    holds: list[HoldView]
    open_case: CaseRef | None
    cases: list[CaseRef]
    alerts: list[AlertRef]


@dataclass(frozen=True, slots=True)
class MonitorVerdict:
    """The monitor's decision on an event (from the decision log)."""

    outcome: str
    score: int
    rules: list[str]


@dataclass(frozen=True, slots=True)
class TimelineRow:
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    summary: str  # "deposit crypto", "login failed", "2fa_reset via sms", ...
    amount: Decimal | None = None
    asset: str | None = None
    usd_value: Decimal | None = None
    counterparty: str | None = None
    address: str | None = None
    ip: str | None = None
    ip_country: str | None = None
    device: str | None = None
    verdict: MonitorVerdict | None = None


@dataclass(frozen=True, slots=True)
class TimelinePage:
    rows: list[TimelineRow]
    next_before_seq: int | None  # pass as ``before_seq`` for the next page; None: no more


# --- API shapes: restrictions and account actions -------------------------------------

# ``actor`` in the bodies below is accepted for older clients and ignored: who acts is the
# authenticated caller (session or API token), never a name the body claims.


class RestrictionRequest(msgspec.Struct, forbid_unknown_fields=True):
    kind: RestrictionKind
    reason: LongText
    expires_at: datetime | None = None
    actor: Name | None = None  # ignored


class LiftRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: LongText = ""  # required: the service refuses a lift without one
    actor: Name | None = None  # ignored


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    comment: LongText = ""


class RestrictionOut(msgspec.Struct):
    id: int
    account_id: str
    kind: str
    reason: str
    created_by: str  # the maker
    approved_by: str | None  # the second person, when four-eyes asked for one
    created_at: datetime
    expires_at: datetime | None
    lifted_at: datetime | None
    lifted_by: str | None
    active: bool


class AccountActionOut(msgspec.Struct):
    """An account action waiting for (or decided by) a second person."""

    id: int
    account_id: str
    kind: str  # full_freeze, offboard
    restriction: str  # the restriction it imposes once approved
    expires_at: datetime | None
    reason: str
    maker: str
    requested_at: datetime
    status: str  # pending_approval, approved, refused
    approver: str | None
    decided_at: datetime | None
    comment: str | None
    restriction_id: int | None


def restriction_out(r: Restriction, now: datetime) -> RestrictionOut:
    return RestrictionOut(
        r.id,
        r.account_id,
        str(r.kind),
        r.reason,
        r.created_by,
        r.approved_by,
        r.created_at,
        r.expires_at,
        r.lifted_at,
        r.lifted_by,
        r.active_at(now),
    )


def action_out(a: AccountAction) -> AccountActionOut:
    expires = a.params.get("expires_at")
    return AccountActionOut(
        a.id,
        a.account_id,
        str(a.kind),
        str(a.params.get("restriction", "")),
        datetime.fromisoformat(expires) if expires else None,
        a.reason,
        a.requested_by,
        a.requested_at,
        str(a.status),
        a.decided_by,
        a.decided_at,
        a.decision_comment,
        a.restriction_id,
    )
