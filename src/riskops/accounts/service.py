"""Account use cases: the account 360 (summary, timeline) and the controls on an account.

The summary and the timeline need ``account:view``; the summary is a view of personal
data, so it is written to the audit trail (``account.view``) in the caller's transaction.

Controls (ADR 0018): each action on an account is ONE function here (``restrict`` for every
kind, full freeze and offboarding included; ``lift``; ``approve`` / ``refuse`` of a pending
action). Each takes the caller, checks the permission, applies the four-eyes policy
(``FOUR_EYES``), records maker and approver, and audits. The API, the console and case
decisions all call them, so none can act on an account around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from riskops.accounts import repository as repo
from riskops.accounts.models import (
    AccountAction,
    AccountActionKind,
    AccountActionStatus,
    Restriction,
    RestrictionKind,
)
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
from riskops.audit.service import record, record_views
from riskops.auth.permissions import Permission, Principal, require, require_second_person
from riskops.cases.models import Case, CaseStatus
from riskops.events.schemas import EVENT_TYPES
from riskops.kernel.bounds import identifier_problem
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
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
            RestrictionView(
                r.id,
                str(r.kind),
                r.reason,
                r.created_by,
                r.created_at,
                r.expires_at,
                r.approved_by,
            )
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


def account_exists(
    session: Session, principal: Principal, account_id: str, *, now: datetime | None = None
) -> bool:
    """Whether riskops knows the account: an event names it (monitored or not yet), or a
    case, an alert or an active restriction does. Search and the account page use it, so a
    value that is no account (an IP, a phone, a typo) is said to be none, not shown empty."""
    require(principal, Permission.ACCOUNT_VIEW)
    return (
        repo.has_events(session, account_id)
        or bool(repo.cases_of(session, account_id, limit=1))
        or bool(repo.recent_alerts(session, account_id, limit=1))
        or bool(repo.active_restrictions(session, account_id, now or utcnow()))
    )


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
    # The events are the account's personal data: audited like any other read (ADR 0020),
    # and, like a listing, not when the page is empty.
    if items:
        shown = {account_id: [item.event_id for item in items]}
        record_views(session, principal, "account.timeline", "account", shown)
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


# --- controls: one function per action on an account ----------------------------------

K = AccountActionKind
# The four-eyes policy, in one place: these actions run only once a second person (not the
# maker, holding ``case:approve``) approves them. Every other restriction, and lifting one,
# takes effect at once. SAR referral is a case action (``cases.decisions``), not here.
FOUR_EYES: frozenset[AccountActionKind] = frozenset({K.FULL_FREEZE, K.OFFBOARD})
_ACTION_OF: dict[RestrictionKind, AccountActionKind] = {
    RestrictionKind.FULL_FREEZE: K.FULL_FREEZE,
    RestrictionKind.ACCOUNT_CLOSED: K.OFFBOARD,
}


def action_kind(kind: RestrictionKind) -> AccountActionKind:
    """The action that imposes a restriction of ``kind`` (full freeze, offboard, restrict)."""
    return _ACTION_OF.get(kind, K.RESTRICT)


def needs_second_person(kind: RestrictionKind) -> bool:
    """Whether imposing a restriction of ``kind`` waits for a second person (four-eyes)."""
    return action_kind(kind) in FOUR_EYES


def restrict(
    session: Session,
    caller: Principal,
    account_id: str,
    kind: RestrictionKind,
    reason: str,
    *,
    expires_at: datetime | None = None,
    maker: str | None = None,
    now: datetime | None = None,
) -> Restriction | AccountAction:
    """Restrict an account, or ask for it when the four-eyes policy wants a second person.

    Without ``maker``, the caller is the maker (needs ``account:restrict``): a restriction
    the policy lets one person impose takes effect at once (returned, ``created_by`` the
    caller); a full freeze or an offboarding is recorded as a pending ``AccountAction``
    (returned) and nothing happens to the account yet. With ``maker`` (who asked), the
    caller is the second person carrying out an approved request: they need
    ``case:approve`` and must not be the maker; the restriction records both. Audited
    either way, in the caller's transaction.
    """
    now = now or utcnow()
    if maker is None:
        require(caller, Permission.ACCOUNT_RESTRICT)
    else:
        _second_person(caller, maker)
    account_id, reason = _account(account_id), _reason(reason)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise ValidationFailed(
            "a restriction expires in the future",
            details=[{"field": "$.expires_at", "reason": "a future time with a UTC offset"}],
        )
    action = action_kind(kind)
    if maker is None and action in FOUR_EYES:
        pending: AccountAction = repo.add(
            session,
            AccountAction(
                account_id=account_id,
                kind=action,
                params={
                    "restriction": kind.value,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
                reason=reason,
                requested_by=caller.name,
                requested_at=now,
                status=AccountActionStatus.PENDING_APPROVAL,
            ),
        )
        asked = {"action_id": pending.id, "action": action.value, "kind": kind.value}
        record(session, caller, "account.request_approval", "account", account_id, asked, now=now)
        return pending
    restriction: Restriction = repo.add(
        session,
        Restriction(
            account_id=account_id,
            kind=kind,
            reason=reason,
            created_by=maker or caller.name,
            approved_by=caller.name if maker is not None else None,
            created_at=now,
            expires_at=expires_at,
        ),
    )
    detail: dict[str, Any] = {
        "restriction_id": restriction.id,
        "kind": kind.value,
        "reason": reason,
        "maker": restriction.created_by,
        "approver": restriction.approved_by,
    }
    record(session, caller, "account.restrict", "account", account_id, detail, now=now)
    return restriction


def lift(
    session: Session,
    caller: Principal,
    account_id: str,
    restriction_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Restriction:
    """Lift an active restriction, saying why (needs ``account:restrict``; audited).

    Lifting needs no second person: it restores what the account could do before, and the
    audit trail names who did it and why (ADR 0018)."""
    require(caller, Permission.ACCOUNT_RESTRICT)  # refuse before saying what is missing
    reason = _reason(reason, "say why the restriction is lifted")
    now = now or utcnow()
    restriction = repo.get_restriction(session, restriction_id)
    if restriction is None or restriction.account_id != account_id:
        raise NotFound(f"restriction {restriction_id} of account {account_id} not found")
    if restriction.lifted_at is not None or not repo.lift(
        session, restriction_id, caller.name, now
    ):
        raise Conflict(f"restriction {restriction_id} was already lifted")
    set_committed_value(restriction, "lifted_at", now)
    set_committed_value(restriction, "lifted_by", caller.name)
    detail = {"restriction_id": restriction_id, "kind": str(restriction.kind), "reason": reason}
    record(session, caller, "account.lift_restriction", "account", account_id, detail, now=now)
    return restriction


def approve(
    session: Session,
    approver: Principal,
    action_id: int,
    comment: str = "",
    *,
    now: datetime | None = None,
) -> AccountAction:
    """A second person approves a pending account action: it is carried out now, through
    ``restrict`` with the maker named, so the restriction records maker and approver."""
    require(approver, Permission.CASE_APPROVE)
    now = now or utcnow()
    action = _pending(session, approver, action_id)
    text = comment.strip() or None
    if not repo.decide_action(
        session, action_id, AccountActionStatus.APPROVED, approver.name, text, now
    ):
        raise Conflict(f"account action {action_id} was decided meanwhile")
    _mirror(action, AccountActionStatus.APPROVED, approver.name, text, now)
    expires = action.params.get("expires_at")
    done = restrict(
        session,
        approver,
        action.account_id,
        RestrictionKind(action.params["restriction"]),
        action.reason,
        expires_at=datetime.fromisoformat(expires) if expires else None,
        maker=action.requested_by,
        now=now,
    )
    assert isinstance(done, Restriction)  # with a maker named, restrict never asks again
    action.restriction_id = done.id
    session.flush()
    detail = {"action": action.kind.value, "maker": action.requested_by, "restriction_id": done.id}
    record(session, approver, "account.approve", "account_action", action_id, detail, now=now)
    return action


def refuse(
    session: Session,
    approver: Principal,
    action_id: int,
    comment: str,
    *,
    now: datetime | None = None,
) -> AccountAction:
    """A second person refuses a pending account action, saying why: nothing happens."""
    require(approver, Permission.CASE_APPROVE)
    text = _reason(comment, "a refusal needs a reason", field="$.comment")
    now = now or utcnow()
    action = _pending(session, approver, action_id)
    if not repo.decide_action(
        session, action_id, AccountActionStatus.REFUSED, approver.name, text, now
    ):
        raise Conflict(f"account action {action_id} was decided meanwhile")
    _mirror(action, AccountActionStatus.REFUSED, approver.name, text, now)
    detail = {"action": action.kind.value, "maker": action.requested_by, "comment": text}
    record(session, approver, "account.refuse", "account_action", action_id, detail, now=now)
    return action


def account_actions(
    session: Session,
    principal: Principal,
    *,
    status: AccountActionStatus | None = None,
    account_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AccountAction]:
    """Account actions (by status, of an account), oldest first (needs ``account:view``);
    audited (``account_action.list``, one entry per account shown, ADR 0020)."""
    require(principal, Permission.ACCOUNT_VIEW)
    found = repo.list_actions(
        session, status=status, account_id=account_id, limit=limit, offset=offset
    )
    shown: dict[str, list[int]] = {}
    for action in found:
        shown.setdefault(action.account_id, []).append(action.id)
    record_views(session, principal, "account_action.list", "account", shown)
    return found


def account_action(session: Session, principal: Principal, action_id: int) -> AccountAction:
    """One account action (needs ``account:view``); audited (``account_action.view``)."""
    require(principal, Permission.ACCOUNT_VIEW)
    action = repo.get_action(session, action_id)
    if action is None:
        raise NotFound(f"account action {action_id} not found")
    record(
        session,
        principal,
        "account_action.view",
        "account",
        action.account_id,
        {"ids": [str(action.id)]},
    )
    return action


def restrictions(
    session: Session, principal: Principal, account_id: str, *, active_only: bool = False
) -> list[Restriction]:
    """The account's restrictions, oldest first; ``active_only``: those in force. The read
    is audited (``restriction.list``)."""
    require(principal, Permission.ACCOUNT_VIEW)
    now = utcnow()
    found = repo.restrictions_of(session, account_id)
    record(session, principal, "restriction.list", "account", account_id, now=now)
    return [r for r in found if r.active_at(now)] if active_only else found


def active_kinds(
    session: Session, account_ids: Iterable[str] | None = None, *, now: datetime | None = None
) -> dict[str, set[RestrictionKind]]:
    """Active restriction kinds by account (of the given accounts, or of all): what the
    monitor reads to block events. No permission: riskops reads it for itself."""
    kinds: dict[str, set[RestrictionKind]] = {}
    for account_id, kind in repo.active_kinds(session, now or utcnow(), account_ids):
        kinds.setdefault(account_id, set()).add(RestrictionKind(kind))
    return kinds


def _second_person(approver: Principal, maker: str) -> None:
    require(approver, Permission.CASE_APPROVE)
    require_second_person(approver, maker, "approve")


def _pending(session: Session, approver: Principal, action_id: int) -> AccountAction:
    action = repo.get_action(session, action_id)
    if action is None:
        raise NotFound(f"account action {action_id} not found")
    if action.status is not AccountActionStatus.PENDING_APPROVAL:
        raise Conflict(f"account action {action_id} is {action.status.value}, not pending")
    require_second_person(approver, action.requested_by)
    return action


def _mirror(
    action: AccountAction,
    status: AccountActionStatus,
    by: str,
    comment: str | None,
    now: datetime,
) -> None:
    """Show on the loaded row what ``repo.decide_action`` wrote (no second UPDATE)."""
    for name, value in (
        ("status", status),
        ("decided_by", by),
        ("decided_at", now),
        ("decision_comment", comment),
    ):
        set_committed_value(action, name, value)


def _account(account_id: str) -> str:
    """The account id as events name accounts (the edge's identifier bounds), or a 422."""
    problem = identifier_problem(account_id)
    if problem is not None:
        raise ValidationFailed(
            "not an account id", details=[{"field": "account_id", "reason": problem}]
        )
    return account_id


def _reason(text: str, message: str = "say why", *, field: str = "$.reason") -> str:
    if not text.strip():
        problem = {"field": field, "reason": "a reason is required"}
        raise ValidationFailed(message, details=[problem])
    return text.strip()


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
