"""The account's activity timeline: every event, newest first, filterable by type, paged
backwards, each with the monitor's decision on it.

The events are found through the monitor's account timeline and the log's tail
(``monitor.repository.account_seqs``, ADR 0013); reading them needs ``account:view`` and is
audited (``account.timeline``, ADR 0020).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.audit.service import record_views
from riskops.auth.permissions import Permission, Principal, require
from riskops.events.schemas import EVENT_TYPES
from riskops.investigation.schemas import MonitorVerdict, TimelinePage, TimelineRow
from riskops.kernel.errors import ValidationFailed
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import Decision

MAX_TIMELINE_PAGE = 200
TIMELINE_TYPES: tuple[str, ...] = tuple(sorted(EVENT_TYPES))
_json = msgspec.json.Decoder()


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
    rows = monitor_repo.account_timeline(
        session, account_id, types=types, before_seq=before_seq, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    decisions = monitor_repo.decisions_for(session, (r.event_id for r in rows))
    items = [_timeline_row(r, decisions.get(r.event_id)) for r in rows]
    # The events are the account's personal data: audited like any other read (ADR 0020),
    # and, like a listing, not when the page is empty.
    if items:
        shown = {account_id: [item.event_id for item in items]}
        record_views(session, principal, "account.timeline", "account", shown)
    return TimelinePage(items, items[-1].seq if more and items else None)


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
