"""The account 360: everything an analyst sees about one account, gathered from the domains
below (ADR 0023). Each domain keeps its own SQL in its own repository; this module composes
the reads, checks ``account:view`` and writes the audit entries.

- ``account_summary``: profile, 30-day flows, active restrictions, holds, cases and recent
  alerts (the account and case pages); audited as ``account.view``.
- ``account_exists``: whether riskops knows an account at all (search, the account page).
- ``held_withdrawals``: the holds page, each hold with its account's open case.
- ``account_360``: the summary plus the rating with its reasons, the linked accounts, the
  screening hits and the intelligence on the account's IPs, phones, emails and addresses
  (``GET /v1/accounts/{id}``, ``riskops accounts show``).

The timeline is ``riskops.investigation.timeline``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.accounts import rating as ratings
from riskops.accounts import repository as accounts_repo
from riskops.accounts import risk_repository as risk_repo
from riskops.accounts import service as accounts
from riskops.audit.service import record, record_views
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import repository as cases_repo
from riskops.cases.models import Case, CaseAlert, CaseStatus
from riskops.intel import service as intel
from riskops.investigation.schemas import (
    Account360,
    AccountSummary,
    AlertRef,
    CaseRef,
    Flow,
    HoldView,
    IntelOut,
    LinkedOut,
    LinksOut,
    Profile,
    ProfileOut,
    RatingOut,
    ReasonOut,
    RestrictionView,
    ScreeningOut,
)
from riskops.kernel.bounds import identifier_problem
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.links import repository as links_repo
from riskops.links import service as links
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import Hold, HoldStatus
from riskops.screening import service as screening
from riskops.screening.models import HitStatus
from riskops.screening.schemas import hit_out

FLOW_WINDOW = timedelta(days=30)
PROFILE_TYPES = ("account.created", "kyb.submitted", "kyb.decided", "kyc.submitted", "kyc.decided")
FLOW_TYPES = ("deposit", "withdrawal.requested")
# The parts of the 360, in the order the answer lists them.
SECTIONS = (
    "profile",
    "rating",
    "restrictions",
    "flows",
    "holds",
    "cases",
    "alerts",
    "links",
    "screening",
    "intel",
)
LINKED_SHOWN = 50  # linked accounts listed (``truncated`` says there were more)
HITS_SHOWN = 50
# The values intel describes, by link kind (``riskops.links.policy.Kind``), and the kind of
# value ``intel.describe`` is told it is; the newest few of each kind.
INTEL_KINDS: Mapping[str, str] = {
    "ip": "ip",
    "phone": "phone",
    "email": "email",
    "deposit_address": "address",
    "withdrawal_address": "address",
}
INTEL_PER_KIND = 10
_json = msgspec.json.Decoder()

Describe = Callable[..., dict[str, Any]]


# --- the summary (account and case pages) ---------------------------------------------


def account_summary(
    session: Session, principal: Principal, account_id: str, *, now: datetime | None = None
) -> AccountSummary:
    """Profile, 30-day flows, active restrictions, holds, cases and recent alerts of an
    account; recorded in the audit trail as ``account.view``."""
    require(principal, Permission.ACCOUNT_VIEW)
    now = now or utcnow()
    summary = _summary(session, account_id, now)
    record(session, principal, "account.view", "account", account_id, now=now)
    return summary


def account_exists(
    session: Session, principal: Principal, account_id: str, *, now: datetime | None = None
) -> bool:
    """Whether riskops knows the account: an event names it (monitored or not yet), or a
    case, an alert or an active restriction does. Search and the account page use it, so a
    value that is no account (an IP, a phone, a typo) is said to be none, not shown empty."""
    require(principal, Permission.ACCOUNT_VIEW)
    return _exists(session, account_id, now or utcnow())


def _exists(session: Session, account_id: str, now: datetime) -> bool:
    return (
        monitor_repo.has_account_events(session, account_id)
        or bool(cases_repo.cases_of_account(session, account_id, limit=1))
        or bool(cases_repo.recent_alerts_of_account(session, account_id, limit=1))
        or bool(accounts_repo.active_restrictions(session, account_id, now))
    )


def _summary(session: Session, account_id: str, now: datetime) -> AccountSummary:
    profile_rows = monitor_repo.account_payloads(session, account_id, PROFILE_TYPES)
    flows = monitor_repo.account_flows_since(session, account_id, FLOW_TYPES, now - FLOW_WINDOW)
    cases = [case_ref(c) for c in cases_repo.cases_of_account(session, account_id)]
    alerts = cases_repo.recent_alerts_of_account(session, account_id)
    return AccountSummary(
        account_id=account_id,
        known=bool(profile_rows or flows or cases or alerts)
        or monitor_repo.has_account_events(session, account_id),
        profile=_profile(profile_rows),
        deposits_30d=_flow(flows.get("deposit")),
        withdrawals_30d=_flow(flows.get("withdrawal.requested")),
        restrictions=[
            RestrictionView(
                r.id,
                str(r.kind),
                r.reason,
                r.created_by,
                r.created_at,
                r.expires_at,
                r.approved_by,
            )
            for r in accounts_repo.active_restrictions(session, account_id, now)
        ],
        holds=[hold_view(h) for h in monitor_repo.holds_of_account(session, account_id)],
        open_case=next((c for c in cases if c.status != CaseStatus.CLOSED), None),
        cases=cases,
        alerts=[alert_ref(a) for a in alerts],
    )


def case_ref(c: Case) -> CaseRef:
    return CaseRef(
        c.id,
        c.queue_key,
        str(c.status),
        c.title,
        c.priority,
        c.opened_at,
        c.due_at,
        c.closed_at,
        str(c.outcome) if c.outcome else None,
    )


def alert_ref(a: CaseAlert) -> AlertRef:
    return AlertRef(
        a.id, str(a.source), a.kind, a.title, a.severity, a.reason, a.case_id, a.occurred_at
    )


def hold_view(h: Hold) -> HoldView:
    return HoldView(
        h.id,
        h.event_id,
        h.asset,
        h.amount,
        h.usd_value,
        str(h.status),
        h.created_at,
        h.resolved_by,
        h.note,
        list(h.reasons or []),
    )


# --- the holds page -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldWithdrawal:
    hold: Hold
    open_case: Case | None


def held_withdrawals(
    session: Session, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[HeldWithdrawal], int]:
    """Withdrawals waiting for an analyst, oldest first, each with its account's open case;
    and how many are held in all. Three queries, whatever the page size. The accounts
    shown are recorded in the audit trail (``hold.list``), as through the API. Resolving a
    hold is ``riskops.monitor.service.resolve_hold``."""
    require(principal, Permission.ACCOUNT_VIEW)
    holds = monitor_repo.list_holds(session, HoldStatus.HELD, limit, offset)
    shown: dict[str, list[int]] = {}
    for hold in holds:
        shown.setdefault(hold.account_id, []).append(hold.id)
    record_views(session, principal, "hold.list", "account", shown)
    cases = cases_repo.open_cases_of(session, {h.account_id for h in holds})
    found = [HeldWithdrawal(h, cases.get(h.account_id)) for h in holds]
    return found, monitor_repo.count_holds(session, HoldStatus.HELD)


# --- the account 360 (API and CLI) ----------------------------------------------------


def account_360(
    session: Session,
    principal: Principal,
    account_id: str,
    *,
    now: datetime | None = None,
    describe: Describe | None = None,
) -> Account360:
    """The account 360: the summary, the stored profile facts, the rating with its
    reasons, the accounts linked to it (one hop, each with its restrictions and band), its
    screening hits and what the shipped data says of its IPs, phones, emails and crypto
    addresses (``describe``: ``riskops.intel.service.describe`` unless a caller hands
    another).

    Needs ``account:view``. An id that is no account id is a 422; an account riskops does
    not know (no event, case, alert or restriction names it) is a 404. The read is audited
    as ``account.view`` (``detail.sections``: what was shown); the linked accounts and the
    screening hits it shows are audited as their own reads (``links.linked``,
    ``screening_hit.list``).
    """
    require(principal, Permission.ACCOUNT_VIEW)
    if (problem := identifier_problem(account_id)) is not None:
        raise ValidationFailed(
            "not an account id", details=[{"field": "account_id", "reason": problem}]
        )
    now = now or utcnow()
    if not _exists(session, account_id, now):
        raise NotFound(
            f"account {account_id} is not known to riskops: "
            "no event, case, alert or restriction names it"
        )
    summary = _summary(session, account_id, now)
    stored = risk_repo.profiles(session, [account_id]).get(account_id)
    sections = list(SECTIONS)
    linked = _links(session, principal, account_id)
    hits = _screening(session, principal, account_id)
    found = _intel(session, account_id, describe or intel.describe)
    record(
        session,
        principal,
        "account.view",
        "account",
        account_id,
        {"sections": sections, "intel_values": len(found)},
        now=now,
    )
    return Account360(
        account_id=account_id,
        sections=sections,
        profile=_profile_out(summary.profile, stored),
        rating=_rating_out(ratings.current(session, account_id)),
        restrictions=summary.restrictions,
        deposits_30d=summary.deposits_30d,
        withdrawals_30d=summary.withdrawals_30d,
        holds=summary.holds,
        open_case=summary.open_case,
        cases=summary.cases,
        alerts=summary.alerts,
        links=linked,
        screening=hits,
        intel=found,
    )


def _profile_out(profile: Profile, stored: Any) -> ProfileOut:
    """The events' profile, completed by the facts ``accounts.watch`` keeps."""

    def kept(name: str) -> Any:
        return getattr(stored, name, None) if stored is not None else None

    return ProfileOut(
        email=profile.email,
        phone=profile.phone or kept("phone"),
        country=profile.country or kept("country"),
        opened_at=profile.created_at or kept("opened_at"),
        corporate=profile.corporate or bool(kept("corporate")),
        full_name=profile.full_name or kept("full_name"),
        nationality=profile.nationality or kept("nationality"),
        birth_date=kept("birth_date"),
        document_country=kept("document_country"),
        kyc_level=profile.kyc_level,
        kyc_result=profile.kyc_result,
        kyc_decided_at=profile.kyc_decided_at,
        kyb_status=kept("kyb_status"),
        kyb_country=kept("kyb_country"),
        signup_ip=kept("signup_ip"),
    )


def _rating_out(rating: ratings.Rating | None) -> RatingOut | None:
    if rating is None:
        return None
    reasons = [ReasonOut(r.code, r.points, r.detail, r.prohibits) for r in rating.reasons]
    return RatingOut(rating.score, str(rating.band), rating.computed_at, reasons)


def _links(session: Session, principal: Principal, account_id: str) -> LinksOut:
    """One hop of the graph (``links.linked``), each linked account with its active
    restrictions and its band: a link to a frozen or offboarded account is evidence."""
    found = links.linked(session, principal, account_id, hops=1, limit=LINKED_SHOWN)
    others = [item.account_id for item in found.items]
    kinds = accounts.active_kinds(session, others)
    bands = ratings.current_many(session, others)
    return LinksOut(
        hops=found.hops,
        linked=len(found.items),
        truncated=found.truncated,
        cluster_id=found.cluster_id,
        accounts=[
            LinkedOut(
                item.account_id,
                item.hop,
                list(item.shared),
                item.via,
                item.cluster_id,
                sorted(str(k) for k in kinds.get(item.account_id, ())),
                str(bands[item.account_id].band) if item.account_id in bands else None,
            )
            for item in found.items
        ],
        hubs=list(found.hubs),
    )


def _screening(session: Session, principal: Principal, account_id: str) -> ScreeningOut:
    hits = screening.hits_for_account(session, principal, account_id, limit=HITS_SHOWN)
    count = {status: sum(h.status is status for h in hits) for status in HitStatus}
    return ScreeningOut(
        open=count[HitStatus.OPEN],
        confirmed=count[HitStatus.CONFIRMED],
        not_a_match=count[HitStatus.NOT_A_MATCH],
        hits=[hit_out(h) for h in hits],
    )


def _intel(session: Session, account_id: str, describe: Describe) -> list[IntelOut]:
    """Intel on the values the account used (as the links graph holds them, normalised),
    the newest ``INTEL_PER_KIND`` of each kind, newest first."""
    by_kind: dict[str, list[tuple[str, datetime, datetime]]] = {}
    for _, kind, value, first, last, _, _ in links_repo.values_of(session, [account_id]):
        if kind in INTEL_KINDS:
            by_kind.setdefault(kind, []).append((value, first, last))
    out: list[IntelOut] = []
    for kind in INTEL_KINDS:
        newest = sorted(by_kind.get(kind, []), key=lambda v: (v[2], v[0]), reverse=True)
        for value, first, last in newest[:INTEL_PER_KIND]:
            answer = describe(value, kind=INTEL_KINDS[kind])
            out.append(IntelOut(kind, value, _aware(first), _aware(last), answer))
    return out


# --- shaping --------------------------------------------------------------------------


def cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def _flow(counts: tuple[int, int] | None) -> Flow:
    if counts is None:
        return Flow()
    return Flow(counts[0], cents(counts[1]))


def _profile(rows: Iterable[tuple[str, str]]) -> Profile:
    """The newest value of each field wins (rows come oldest first)."""
    fields: dict[str, Any] = {}
    for kind, payload in rows:
        data = _json.decode(payload)
        if kind == "account.created":
            for key in ("email", "phone", "country", "corporate"):
                if data.get(key) is not None:
                    fields[key] = data[key]
            fields["created_at"] = _time(data.get("occurred_at"))
        elif kind in ("kyc.submitted", "kyc.decided"):
            if data.get("level") is not None:
                fields["kyc_level"] = data["level"]
            for key, target in (("full_name", "full_name"), ("nationality", "nationality")):
                if data.get(key):
                    fields[target] = data[key]
            if kind == "kyc.decided":
                fields["kyc_result"] = data.get("result")
                fields["kyc_decided_at"] = _time(data.get("occurred_at"))
            elif "kyc_result" not in fields:
                fields["kyc_result"] = "submitted"
        elif kind == "kyb.decided":
            fields["kyc_result"] = data.get("result")
            fields["corporate"] = True
        elif kind == "kyb.submitted":
            fields["full_name"] = data.get("legal_name")
            fields["corporate"] = True
    return Profile(**fields)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
