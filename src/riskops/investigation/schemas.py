"""What the account 360 shows: the account pages' plain frozen values (summary, timeline),
and the answer of ``GET /v1/accounts/{id}`` and ``riskops accounts show ID --json``.

Values only, no database rows: the service shapes each domain's rows into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec

from riskops.links.schemas import HubValue, Shared
from riskops.screening.schemas import HitOut


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


# --- the account 360 over the API and the CLI (msgspec) -------------------------------


class ProfileOut(msgspec.Struct, omit_defaults=False):
    """Who the customer is: as the account's events said it (``account.created``,
    ``kyc.*``, ``kyb.*``) and the facts the rating keeps (``accounts.watch``)."""

    email: str | None = None
    phone: str | None = None
    country: str | None = None
    opened_at: datetime | None = None
    corporate: bool = False
    full_name: str | None = None
    nationality: str | None = None
    birth_date: date | None = None
    document_country: str | None = None
    kyc_level: int | None = None
    kyc_result: str | None = None
    kyc_decided_at: datetime | None = None
    kyb_status: str | None = None
    kyb_country: str | None = None
    signup_ip: str | None = None


class ReasonOut(msgspec.Struct):
    code: str
    points: int
    detail: str
    prohibits: bool


class RatingOut(msgspec.Struct):
    score: int  # 0-100
    band: str  # low, medium, high, prohibited
    computed_at: datetime
    reasons: list[ReasonOut]  # heaviest first


class LinkedOut(msgspec.Struct):
    """An account linked to this one, with what links it and its standing."""

    account_id: str
    hop: int
    shared: list[Shared]
    via: str | None
    cluster_id: str | None
    restrictions: list[str]  # active restriction kinds: full_freeze, account_closed, ...
    rating_band: str | None


class LinksOut(msgspec.Struct):
    """The accounts one hop away (values that are not hubs), the account's hub values
    (shared by too many accounts to link them) and its cluster."""

    hops: int
    linked: int
    truncated: bool
    cluster_id: str | None
    accounts: list[LinkedOut]
    hubs: list[HubValue]


class ScreeningOut(msgspec.Struct):
    """Screening hits of the account's names (KYC, KYB, owners, P2P counterparties)."""

    open: int
    confirmed: int
    not_a_match: int
    hits: list[HitOut]  # newest first, as ``GET /v1/accounts/{id}/screening-hits``


class IntelOut(msgspec.Struct):
    """What the shipped data says of one value the account used (``riskops.intel``)."""

    used_as: str  # the link kind: phone, email, ip, deposit_address, withdrawal_address
    value: str
    first_seen: datetime
    last_seen: datetime
    intel: dict[str, Any]  # ``intel.service.describe``: kind, country, asn, valid, sources...


class Account360(msgspec.Struct):
    """Everything an analyst sees about one account, gathered from the domains below.

    ``sections`` names the parts this deployment gathered (a part whose package is not
    installed is absent from it, never filled with made-up data)."""

    account_id: str
    sections: list[str]
    profile: ProfileOut
    rating: RatingOut | None  # None: never rated
    restrictions: list[RestrictionView]  # active, oldest first
    deposits_30d: Flow
    withdrawals_30d: Flow
    holds: list[HoldView]  # held first, then the newest resolved
    open_case: CaseRef | None
    cases: list[CaseRef]  # the open one first, then newest
    alerts: list[AlertRef]  # newest first
    links: LinksOut | None = None
    screening: ScreeningOut | None = None
    intel: list[IntelOut] = msgspec.field(default_factory=list)
