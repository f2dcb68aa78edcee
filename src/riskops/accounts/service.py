"""Account use cases: the controls on an account, and its restrictions.

Controls (ADR 0018): each action on an account is ONE function here (``restrict`` for every
kind, full freeze and offboarding included; ``lift``; ``approve`` / ``refuse`` of a pending
action). Each takes the caller, checks the permission, applies the four-eyes policy
(``FOUR_EYES``), records maker and approver, and audits. The API, the console and case
decisions all call them, so none can act on an account around them.

The account 360 (summary, timeline, held withdrawals), which reads cases and the monitor,
sits above them in ``riskops.investigation`` (ADR 0023).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

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
from riskops.audit.service import record, record_views
from riskops.auth.permissions import Permission, Principal, require, require_second_person
from riskops.kernel.bounds import identifier_problem
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.outbound import webhooks

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
    webhooks.emit(session, "account.restricted", _told(restriction), now=now)
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
    webhooks.emit(session, "account.restriction_lifted", _told(restriction), now=now)
    return restriction


def _told(r: Restriction) -> dict[str, Any]:
    """What the exchange's webhook learns of a restriction: what it must enforce, no note."""
    return {
        "account_id": r.account_id,
        "restriction_id": r.id,
        "kind": str(r.kind),
        "expires_at": r.expires_at,
        "lifted_at": r.lifted_at,
    }


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
