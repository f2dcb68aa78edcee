"""Account 360 use cases: the summary an analyst decides from, and the activity timeline.

Both need ``account:view``; the summary is a view of personal data, so it is written to the
audit trail (``account.view``) in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.accounts import repository as repo
from riskops.accounts.schemas import (
    AccountSummary,
    AlertRef,
    CaseRef,
    Flow,
    HoldView,
    MonitorVerdict,
    Profile,
    RestrictionView,
    TimelinePage,
    TimelineRow,
)
from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases.models import Case, CaseStatus
from riskops.events.schemas import EVENT_TYPES
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import ValidationFailed
from riskops.monitor.models import Decision

FLOW_WINDOW = timedelta(days=30)
MAX_TIMELINE_PAGE = 200
TIMELINE_TYPES: tuple[str, ...] = tuple(sorted(EVENT_TYPES))
_json = msgspec.json.Decoder()


def account_summary(
    session: Session, principal: Principal, account_id: str, *, now: datetime | None = None
) -> AccountSummary:
    """Profile, 30-day flows, active restrictions, holds, cases and recent alerts of an
    account; recorded in the audit trail as ``account.view``."""
    require(principal, Permission.ACCOUNT_VIEW)
    now = now or utcnow()
    profile_rows = repo.profile_payloads(session, account_id)
    flows = repo.flows_since(session, account_id, now - FLOW_WINDOW)
    cases = [case_ref(c) for c in repo.cases_of(session, account_id)]
    alerts = repo.recent_alerts(session, account_id)
    summary = AccountSummary(
        account_id=account_id,
        known=bool(profile_rows or flows or cases or alerts)
        or repo.has_events(session, account_id),
        profile=_profile(profile_rows),
        deposits_30d=_flow(flows.get("deposit")),
        withdrawals_30d=_flow(flows.get("withdrawal.requested")),
        restrictions=[
            RestrictionView(r.id, str(r.kind), r.reason, r.created_by, r.created_at, r.expires_at)
            for r in repo.active_restrictions(session, account_id, now)
        ],
        holds=[
            HoldView(
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
            for h in repo.holds_of(session, account_id)
        ],
        open_case=next((c for c in cases if c.status != CaseStatus.CLOSED), None),
        cases=cases,
        alerts=[
            AlertRef(
                a.id,
                str(a.source),
                a.kind,
                a.title,
                a.severity,
                a.reason,
                a.case_id,
                a.occurred_at,
            )
            for a in alerts
        ],
    )
    record(session, principal, "account.view", "account", account_id, now=now)
    return summary


def timeline(
    session: Session,
    principal: Principal,
    account_id: str,
    *,
    types: Sequence[str] | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> TimelinePage:
    """The account's events, newest first, each with the monitor's decision on it.

    ``types`` filters by event type; ``before_seq`` pages backwards (the previous page's
    ``next_before_seq``). Two queries per page: the events, then their decisions.
    """
    require(principal, Permission.ACCOUNT_VIEW)
    if not 1 <= limit <= MAX_TIMELINE_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_TIMELINE_PAGE}")
    unknown = sorted(set(types or ()) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(f"unknown event types: {', '.join(unknown)}")
    rows = repo.timeline_rows(
        session, account_id, types=types, before_seq=before_seq, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    decisions = repo.decisions_for(session, (r.event_id for r in rows))
    items = [_timeline_row(r, decisions.get(r.event_id)) for r in rows]
    return TimelinePage(items, items[-1].seq if more and items else None)


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


# --- shaping --------------------------------------------------------------------------


def _flow(counts: tuple[int, int] | None) -> Flow:
    if counts is None:
        return Flow()
    return Flow(counts[0], repo.cents(counts[1]))


def _profile(rows: list[tuple[str, str]]) -> Profile:
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


def _decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _summary(kind: str, data: dict[str, Any]) -> str:
    """A few words an analyst reads at a glance."""
    if kind == "login":
        ok = "succeeded" if data.get("success") else "failed"
        extra = data.get("failure_reason") or data.get("two_fa_method")
        return f"login {ok}" + (f" ({extra})" if extra else "")
    if kind == "security.change":
        via = f" via {data['channel']}" if data.get("channel") else ""
        return f"{data.get('change', 'change')}{via}"
    if kind == "provider.signal":
        return f"{data.get('signal', 'signal')}" + (
            f" from {data['provider']}" if data.get("provider") else ""
        )
    if kind in ("deposit", "withdrawal.requested"):
        chain = f" on {data['chain']}" if data.get("chain") else ""
        return f"{kind.split('.')[0]} {data.get('rail', 'crypto')}{chain}"
    if kind in ("trade", "p2p.order"):
        return f"{kind} {data.get('side', '')}".strip()
    if kind in ("kyc.decided", "kyb.decided"):
        return f"{kind} {data.get('result', '')}".strip()
    if kind == "kyc.submitted":
        return f"kyc level {data.get('level')} submitted"
    if kind == "card.chargeback":
        return "card chargeback" + (f" ({data['reason']})" if data.get("reason") else "")
    return kind


def _timeline_row(row: Any, decision: Decision | None) -> TimelineRow:
    data = _json.decode(row.payload)
    kind = row.type
    occurred = row.occurred_at
    if occurred.tzinfo is None:  # SQLite hands back naive UTC
        occurred = occurred.replace(tzinfo=UTC)
    counterparty = data.get("counterparty_name") or data.get("counterparty_id")
    if data.get("counterparty_name") and data.get("counterparty_id"):
        counterparty = f"{data['counterparty_name']} ({data['counterparty_id']})"
    verdict = None
    if decision is not None:
        verdict = MonitorVerdict(str(decision.outcome), decision.score, list(decision.rule_ids))
    return TimelineRow(
        seq=row.seq,
        event_id=row.event_id,
        type=kind,
        occurred_at=occurred,
        summary=_summary(kind, data),
        amount=_decimal(data.get("amount")),
        asset=data.get("asset"),
        usd_value=_decimal(data.get("usd_value")),
        counterparty=counterparty,
        address=data.get("address") or data.get("source_address"),
        ip=data.get("ip"),
        ip_country=data.get("ip_country"),
        device=data.get("device_id"),
        verdict=verdict,
    )
