"""Decisions on cases: a note in five sections, then an action on the account or a hold.

The note is stored first and the action links to it. Low-impact actions run at once (a
restriction is in the monitor before the transaction commits, so the account's next
withdrawal is blocked). Full freeze, offboarding and SAR referral are four-eyes: the action
waits as ``pending_approval`` and nothing happens to the account until a second person
(not the maker) approves it. Everything on the account is reversible (lift) and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from riskops.accounts import rating
from riskops.accounts import service as accounts
from riskops.accounts.models import Restriction, RestrictionKind
from riskops.audit.service import record, record_views
from riskops.auth import repository as auth_repo
from riskops.auth.permissions import Permission, Principal, require, require_second_person
from riskops.auth.service import user_principal
from riskops.cases import history, review_outcomes
from riskops.cases import holds as case_holds
from riskops.cases import repository as repo
from riskops.cases.domain import Command, Sla, priority
from riskops.cases.models import (
    ActionKind,
    ActionStatus,
    Case,
    CaseAction,
    CaseOutcome,
    CaseStatus,
    Note,
)
from riskops.cases.schemas import DISMISS_REASONS, DecisionIn
from riskops.cases.service import ensure_assignee
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor

P = Permission
A = ActionKind
ESCALATIONS = "escalations"
SECTIONS = ("summary", "evidence", "findings", "decision", "rationale")

# What each action needs beyond case:work.
ACTION_PERMISSION: dict[ActionKind, Permission] = {
    A.DISMISS: P.CASE_WORK,
    A.RESTRICT: P.ACCOUNT_RESTRICT,
    A.LIFT_RESTRICTION: P.ACCOUNT_RESTRICT,
    A.RELEASE_HOLD: P.HOLD_RESOLVE,
    A.REJECT_HOLD: P.HOLD_RESOLVE,
    A.REQUIRE_REKYC: P.ACCOUNT_RESTRICT,
    A.OFFBOARD: P.ACCOUNT_RESTRICT,
    A.ESCALATE: P.CASE_WORK,
    A.REQUEST_INFO: P.CASE_WORK,
    A.REFER_SAR: P.SAR_REFER,
}
_ON_ACCOUNT = frozenset({A.RESTRICT, A.LIFT_RESTRICTION, A.REQUIRE_REKYC, A.OFFBOARD})
_CLOSING: dict[ActionKind, CaseOutcome] = {
    A.DISMISS: CaseOutcome.DISMISSED,
    A.RESTRICT: CaseOutcome.RESTRICTED,
    A.LIFT_RESTRICTION: CaseOutcome.RESOLVED,
    A.REQUIRE_REKYC: CaseOutcome.RESOLVED,
    A.OFFBOARD: CaseOutcome.OFFBOARDED,
    A.REFER_SAR: CaseOutcome.SAR_REFERRED,
}


@dataclass(frozen=True, slots=True)
class DecisionResult:
    case: Case
    action: CaseAction
    note: Note

    @property
    def pending_approval(self) -> bool:
        return self.action.status is ActionStatus.PENDING_APPROVAL


def needs_approval(kind: ActionKind, params: dict[str, Any]) -> bool:
    """Four-eyes: SAR referral needs a second person, and so does any action on the account
    that the accounts' policy gives to two people (full freeze, offboarding)."""
    if kind is A.REFER_SAR:
        return True
    return any(accounts.needs_second_person(k) for k in restriction_kinds(kind, params))


def restriction_kinds(kind: ActionKind, params: dict[str, Any]) -> list[RestrictionKind]:
    """The restrictions a case action imposes on the account (none for most actions)."""
    if kind is A.RESTRICT:
        return [RestrictionKind(k) for k in params.get("restrictions", [])]
    return {
        A.REQUIRE_REKYC: [RestrictionKind.REKYC_REQUIRED],
        A.OFFBOARD: [RestrictionKind.ACCOUNT_CLOSED],
    }.get(kind, [])


def decide(
    session: Session,
    principal: Principal,
    case_id: int,
    body: DecisionIn,
    *,
    now: datetime | None = None,
) -> DecisionResult:
    """Decide a case one works on: note first, then the action (or its approval request)."""
    require(principal, P.CASE_WORK)
    require(principal, ACTION_PERMISSION[body.action])
    now = now or utcnow()
    case = history.load(session, case_id)
    ensure_assignee(case, principal)
    if case.status not in (CaseStatus.ASSIGNED, CaseStatus.IN_REVIEW):
        raise Conflict(f"case {case_id} is {case.status.value}; decide it while reviewing")
    params = _validated(session, body, case, now)
    if params.get("holds"):
        require(principal, P.HOLD_RESOLVE)
    if case.status is CaseStatus.ASSIGNED:
        history.transition(session, case, Command.START_REVIEW, principal.name, now)
    sections = {name: getattr(body.note, name).strip() for name in SECTIONS}
    note = repo.add(
        session, Note(case_id=case.id, author=principal.name, created_at=now, sections=sections)
    )
    four_eyes = needs_approval(body.action, params)
    action = repo.add(
        session,
        CaseAction(
            case_id=case.id,
            note_id=note.id,
            kind=body.action,
            params=params,
            status=ActionStatus.PENDING_APPROVAL if four_eyes else ActionStatus.DONE,
            requested_by=principal.name,
            requested_at=now,
            result={},
        ),
    )
    detail = {"action_id": action.id, "action": body.action.value, "note_id": note.id}
    detail.update({k: params[k] for k in ("holds", "holds_kept", "holds_reason") if k in params})
    if four_eyes:
        history.transition(
            session, case, Command.REQUEST_APPROVAL, principal.name, now, detail=detail
        )
    else:
        action.decided_by, action.decided_at = principal.name, now
        history.event(session, case, principal.name, "decided", now, detail=detail)
        resolved = _resolve_holds(session, case, action, principal, sections["decision"], now)
        _on_account(session, case, action, principal, sections["decision"], now)
        _execute(session, case, action, principal.name, sections["decision"], now)
        review_outcomes.decide_hits(session, principal, case, sections["decision"], now)
        _with_holds(action, resolved)
    session.flush()
    record(session, principal, "case.decide", "case", case.id, detail, now=now)
    return DecisionResult(case, action, note)


def approve(
    session: Session,
    approver: Principal,
    action_id: int,
    comment: str = "",
    *,
    now: datetime | None = None,
) -> DecisionResult:
    """A second person approves a pending high-impact action: it runs, the case closes.

    The maker can never approve their own action (four-eyes).
    """
    require(approver, P.CASE_APPROVE)
    now = now or utcnow()
    action, case, note = _pending(session, approver, action_id)
    # The maker's hold choices run as the maker's (they chose; the approver agrees), so an
    # approver without hold:resolve (compliance) can approve them; refused before anything
    # runs if the maker may no longer resolve holds.
    maker = _maker(session, action.requested_by) or approver
    if action.params.get("holds"):
        require(maker, P.HOLD_RESOLVE)
    action.status = ActionStatus.DONE
    action.decided_by, action.decided_at = approver.name, now
    action.decision_comment = comment.strip() or None
    detail = {"action_id": action.id, "action": action.kind.value, "maker": action.requested_by}
    history.event(session, case, approver.name, "approved", now, reason=comment, detail=detail)
    decision = f"{note.sections.get('decision', '')} (approved by {approver.name})"
    resolved = _resolve_holds(
        session, case, action, maker, decision, now, approved_by=approver.name
    )
    _on_account(session, case, action, approver, decision, now, maker=action.requested_by)
    _execute(session, case, action, approver.name, decision, now)
    review_outcomes.decide_hits(session, approver, case, decision, now)
    _with_holds(action, resolved)
    session.flush()
    record(session, approver, "case.approve", "case_action", action.id, detail, now=now)
    return DecisionResult(case, action, note)


def refuse(
    session: Session,
    approver: Principal,
    action_id: int,
    comment: str,
    *,
    now: datetime | None = None,
) -> DecisionResult:
    """A second person refuses a pending action (with a reason): back to review."""
    require(approver, P.CASE_APPROVE)
    if not comment.strip():
        raise ValidationFailed(
            "a refusal needs a reason",
            details=[{"field": "$.comment", "reason": "required"}],
        )
    now = now or utcnow()
    action, case, note = _pending(session, approver, action_id)
    action.status = ActionStatus.REFUSED
    action.decided_by, action.decided_at = approver.name, now
    action.decision_comment = comment.strip()
    detail = {"action_id": action.id, "action": action.kind.value, "maker": action.requested_by}
    history.transition(
        session,
        case,
        Command.APPROVAL_REFUSED,
        approver.name,
        now,
        kind="refused",
        reason=comment.strip(),
        detail=detail,
    )
    session.flush()
    record(session, approver, "case.refuse", "case_action", action.id, detail, now=now)
    return DecisionResult(case, action, note)


def list_approvals(session: Session, principal: Principal, *, limit: int = 100) -> list[CaseAction]:
    """Actions waiting for a second person's approval, oldest first; audited
    (``approval.list``: one entry per account shown, per case of no account, ADR 0020)."""
    require(principal, P.CASE_APPROVE)
    found = repo.pending_actions(session, limit)
    cases = repo.cases_by_ids(session, {a.case_id for a in found})
    accounts: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for action in found:
        account_id = cases[action.case_id].account_id
        if account_id is not None:
            accounts.setdefault(account_id, []).append(action.id)
        else:
            loose.setdefault(str(action.case_id), []).append(action.id)
    record_views(session, principal, "approval.list", "account", accounts)
    record_views(session, principal, "approval.list", "case", loose)
    return found


def _pending(
    session: Session, approver: Principal, action_id: int
) -> tuple[CaseAction, Case, Note]:
    action = repo.get_action(session, action_id, for_update=True)
    if action is None:
        raise NotFound(f"action {action_id} not found")
    if action.status is not ActionStatus.PENDING_APPROVAL:
        raise Conflict(f"action {action_id} is {action.status.value}, not pending approval")
    require_second_person(approver, action.requested_by)
    case = history.load(session, action.case_id)
    note = repo.get_note(session, action.note_id)
    assert note is not None  # a foreign key
    return action, case, note


# --- executing an action --------------------------------------------------------------


def _execute(
    session: Session, case: Case, action: CaseAction, actor: str, decision: str, now: datetime
) -> None:
    kind, params = action.kind, action.params
    result: dict[str, Any] = dict(action.result or {})  # what _on_account did, if anything
    if kind in (A.RELEASE_HOLD, A.REJECT_HOLD):
        # the hold was resolved with the decision's other hold choices (_resolve_holds)
        result["hold_status"] = "released" if kind is A.RELEASE_HOLD else "rejected"
        if case_holds.pending_holds(session, case):  # another withdrawal still waits
            action.result = result
            return
        _close(session, case, CaseOutcome.RESOLVED, actor, now, action)
    elif kind is A.ESCALATE:
        _escalate(session, case, actor, now, action)
    elif kind is A.REQUEST_INFO:
        waiting_until = datetime.fromisoformat(params["due_at"])
        history.transition(
            session,
            case,
            Command.WAIT_CUSTOMER,
            actor,
            now,
            detail={"action_id": action.id, "waiting_until": params["due_at"]},
        )
        case.sla_paused_at = Sla(case.due_at, case.sla_paused_at).pause(now).paused_at
        case.waiting_until = waiting_until
    action.result = result
    if kind in _CLOSING:
        _close(session, case, _CLOSING[kind], actor, now, action)


def _on_account(
    session: Session,
    case: Case,
    action: CaseAction,
    by: Principal,
    decision: str,
    now: datetime,
    *,
    maker: str | None = None,
) -> None:
    """Carry out an action on the case's account through ``accounts.service``, the one
    way restrictions are imposed and lifted: ``by`` is the maker (``maker`` None) or the
    approver of ``maker``'s pending action, and the restriction records both."""
    kind, params = action.kind, action.params
    if kind not in _ON_ACCOUNT:
        return
    assert case.account_id is not None  # checked when decided
    reason = f"case {case.id}: {decision}".strip()
    if kind is A.LIFT_RESTRICTION:
        restriction_id = params["restriction_id"]
        lifted = accounts.lift(session, by, case.account_id, restriction_id, reason, now=now)
        action.result = {**(action.result or {}), "restriction_id": lifted.id}
        return
    expires = params.get("expires_at")
    ids = []
    for restriction in restriction_kinds(kind, params):
        done = accounts.restrict(
            session,
            by,
            case.account_id,
            restriction,
            reason,
            expires_at=datetime.fromisoformat(expires) if expires else None,
            maker=maker,
            now=now,
        )
        if not isinstance(done, Restriction):  # needs_approval reads the same policy
            raise Conflict(f"{restriction} needs a second person's approval")
        ids.append(done.id)
    action.result = {**(action.result or {}), "restriction_ids": ids}


def _close(
    session: Session,
    case: Case,
    outcome: CaseOutcome,
    actor: str,
    now: datetime,
    action: CaseAction,
) -> None:
    detail = {"action_id": action.id, "outcome": outcome.value}
    history.transition(session, case, Command.CLOSE, actor, now, kind="closed", detail=detail)
    case.outcome = outcome
    case.reason_code = action.params.get("reason_code")
    case.sla_paused_at = case.waiting_until = None
    if case.account_id is not None:  # the outcome weighs in the account's rating
        rating.record_case_outcome(session, case.account_id, case.id, outcome.value, at=now)


def _escalate(session: Session, case: Case, actor: str, now: datetime, action: CaseAction) -> None:
    queue = repo.get_queue(session, ESCALATIONS)
    if queue is None:
        raise NotFound("the escalations queue does not exist")
    detail = {"action_id": action.id, "from_queue": case.queue_key, "to_queue": queue.key}
    history.transition(session, case, Command.ESCALATE, actor, now, kind="escalated", detail=detail)
    case.queue_key = queue.key
    case.assignee_id = None
    case.due_at = now + timedelta(minutes=queue.sla_minutes)
    case.sla_paused_at = None
    case.priority = priority(case.severity, case.amount_at_risk_usd, queue.sla_minutes)


def _resolve_holds(
    session: Session,
    case: Case,
    action: CaseAction,
    actor: Principal,
    decision: str,
    now: datetime,
    *,
    approved_by: str | None = None,
) -> dict[str, str]:
    """Resolve the decision's hold choices as ``actor``, the maker (who chose them), each
    with a history entry; returns each chosen hold's status. ``approved_by``: the approver
    of a four-eyes action, recorded with each resolution.

    A closing action may leave holds held only as decided, with the reason recorded: a hold
    of the case held after a four-eyes decision was made stops its approval (Conflict).
    """
    params = action.params
    choices: dict[str, str] = params.get("holds", {})
    held = {h.id: h for h in case_holds.pending_holds(session, case, for_update=True)}
    context: dict[str, Any] = {"case_id": case.id, "action_id": action.id}
    statuses: dict[str, str] = {}
    for key, resolution in choices.items():
        if int(key) not in held:  # resolved meanwhile (holds page): its case heard of it
            gone = monitor_repo.get_hold(session, int(key))
            statuses[key] = f"already {gone.status.value if gone else 'gone'}"
            continue
        hold = monitor.resolve_hold(
            session,
            actor,
            int(key),
            resolution,
            decision,
            now=now,
            approved_by=approved_by,
            context=context,
        )
        case_holds.record(session, case, hold, now, context)
        statuses[key] = hold.status.value
    if action.kind not in _CLOSING:
        return statuses
    left = sorted(i for i in held if str(i) not in choices)
    unexplained = [i for i in left if i not in params.get("holds_kept", [])]
    if unexplained:
        raise Conflict(
            f"hold(s) {', '.join(f'#{i}' for i in unexplained)} of case {case.id} were held"
            " after the decision was made; refuse it so that they are decided too"
        )
    if left:
        history.event(
            session,
            case,
            action.requested_by,
            "holds_kept",
            now,
            reason=params.get("holds_reason", ""),
            detail={"hold_ids": left, "action_id": action.id},
        )
    return statuses


def _maker(session: Session, username: str) -> Principal | None:
    user = auth_repo.user_by_username(session, username)
    return user_principal(user) if user is not None else None


def _with_holds(action: CaseAction, statuses: dict[str, str]) -> None:
    if statuses:  # a new dict: the JSON column sees the change
        action.result = {**action.result, "holds": statuses}


# --- validation -----------------------------------------------------------------------


def _validated(session: Session, body: DecisionIn, case: Case, now: datetime) -> dict[str, Any]:
    """The action's parameters as stored (JSON), or ValidationFailed naming every bad field."""
    problems = [
        {"field": f"$.note.{name}", "reason": "required: every note section must be written"}
        for name in SECTIONS
        if not getattr(body.note, name, "").strip()
    ]

    def bad(field: str, reason: str) -> None:
        problems.append({"field": f"$.{field}", "reason": reason})

    params: dict[str, Any] = {}
    kind = body.action
    if kind in _ON_ACCOUNT and case.account_id is None:
        bad("action", "the case is not linked to an account")
    if kind is A.DISMISS:
        if body.reason_code not in DISMISS_REASONS:
            bad("reason_code", f"one of {', '.join(DISMISS_REASONS)}")
        params["reason_code"] = body.reason_code
    elif kind is A.RESTRICT:
        kinds = list(dict.fromkeys([*body.restrictions, *filter(None, [body.restriction])]))
        closing = {RestrictionKind.ACCOUNT_CLOSED, RestrictionKind.REKYC_REQUIRED}
        if not kinds:
            bad("restriction", "name the restriction(s) to apply")
        elif closing & set(kinds):
            bad("restrictions", "use the offboard or require_rekyc action for these")
        params["restrictions"] = [k.value for k in kinds]
        if body.expires_at is not None:
            if body.expires_at.tzinfo is None or body.expires_at <= now:
                bad("expires_at", "must be a future time with a UTC offset")
            params["expires_at"] = body.expires_at.isoformat()
    elif kind is A.LIFT_RESTRICTION:
        if body.restriction_id is None:
            bad("restriction_id", "required")
        params["restriction_id"] = body.restriction_id
    elif kind is A.REQUEST_INFO:
        if body.due_at is None or body.due_at.tzinfo is None or body.due_at <= now:
            bad("due_at", "required: a future time with a UTC offset")
        else:
            params["due_at"] = body.due_at.isoformat()
    params.update(_hold_choices(session, body, case, bad))
    if problems:
        raise ValidationFailed("the decision is incomplete", details=problems)
    return params


def _hold_choices(session: Session, body: DecisionIn, case: Case, bad: Any) -> dict[str, Any]:
    """The decision's hold parameters: ``holds`` ({hold id: release|reject}, the hold of a
    release_hold / reject_hold action included), and for a closing action the holds it
    leaves held (``holds_kept``) with ``holds_reason``, which is then required."""
    held = [h.id for h in case_holds.pending_holds(session, case, for_update=True)]
    choices: dict[str, str] = {}
    for i, choice in enumerate(body.holds):
        if choice.hold_id not in held:
            bad(
                f"holds[{i}].hold_id",
                f"hold {choice.hold_id} is not a held withdrawal of this case",
            )
        elif str(choice.hold_id) in choices:
            bad(f"holds[{i}].hold_id", f"hold {choice.hold_id} is chosen twice")
        else:
            choices[str(choice.hold_id)] = choice.resolution
    params: dict[str, Any] = {}
    kind = body.action
    if kind in (A.RELEASE_HOLD, A.REJECT_HOLD):
        verb = "release" if kind is A.RELEASE_HOLD else "reject"
        hold_id = body.hold_id
        if hold_id is None and len(held) == 1:
            hold_id = held[0]
        if hold_id is None:
            bad("hold_id", f"required: the case has {len(held)} held withdrawals")
        elif hold_id not in held:
            bad("hold_id", f"hold {hold_id} is not a held withdrawal of this case")
        elif choices.setdefault(str(hold_id), verb) != verb:
            bad("holds", f"hold {hold_id} cannot be both released and rejected")
        params["hold_id"] = hold_id
    if choices:
        params["holds"] = choices
    left = [i for i in held if str(i) not in choices]
    if kind in _CLOSING and left:
        reason = body.holds_reason.strip()
        if not reason:
            named = ", ".join(f"#{i}" for i in left)
            bad(
                "holds_reason",
                f"the case closes with {named} still held: release or reject each,"
                " or say why they stay held",
            )
        params["holds_kept"], params["holds_reason"] = left, reason
    return params
