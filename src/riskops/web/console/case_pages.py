"""The case page and what an analyst does on it: assign, review, decide, approve, refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from riskops.accounts.models import RestrictionKind
from riskops.auth.permissions import Permission, Principal
from riskops.cases import decisions, lifecycle
from riskops.cases import holds as case_holds
from riskops.cases import service as cases
from riskops.cases.models import ActionKind, ActionStatus
from riskops.cases.schemas import DISMISS_REASONS, DecisionIn
from riskops.http.deps import DbSession
from riskops.http.params import LongText, RowIdPath
from riskops.investigation import service as investigation
from riskops.investigation.timeline import timeline
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.web.console.account_pages import parse_types, timeline_context
from riskops.web.console.review_pages import case_reviews
from riskops.web.console.routing import ConsoleRoute, PageUser, form_text, see_other
from riskops.web.console.standing import standings
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

A = ActionKind
# The decision form's actions, in the order an analyst reaches for them.
ACTIONS: list[tuple[str, str]] = [
    (A.DISMISS, "Dismiss: legitimate (reason code)"),
    (A.RESTRICT, "Restrict the account"),
    (A.RELEASE_HOLD, "Release the held withdrawal"),
    (A.REJECT_HOLD, "Reject the held withdrawal"),
    (A.REQUEST_INFO, "Ask the customer for information (pauses the SLA)"),
    (A.ESCALATE, "Escalate to a senior analyst"),
    (A.REQUIRE_REKYC, "Require re-KYC"),
    (A.LIFT_RESTRICTION, "Lift a restriction"),
    (A.OFFBOARD, "Offboard (close the account) — needs approval"),
    (A.REFER_SAR, "Refer for a SAR — needs approval"),
]
RESTRICTIONS: list[tuple[str, str]] = [
    (RestrictionKind.WITHDRAWAL_LOCK, "Withdrawal lock"),
    (RestrictionKind.TRADING_LOCK, "Trading lock"),
    (RestrictionKind.P2P_BAN, "P2P ban"),
    (RestrictionKind.API_DISABLE, "API disable"),
    (RestrictionKind.FULL_FREEZE, "Full freeze — needs approval"),
]
NOTE_SECTIONS: list[tuple[str, str, str]] = [
    ("summary", "Summary", "What the case is about, in a sentence or two."),
    ("evidence", "Evidence reviewed", "Timeline, linked accounts, KYC, IP/device, addresses…"),
    ("findings", "Findings", "What the evidence shows."),
    ("decision", "Decision", "What you decided and what happens to the account."),
    ("rationale", "Rationale", "Why this decision, against the policy."),
]


def _utc_input(value: str, field: str) -> str | None:
    """A ``datetime-local`` field (read as UTC) as RFC 3339; empty → None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "invalid date", details=[{"field": field, "reason": "use YYYY-MM-DD HH:MM (UTC)"}]
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment.isoformat()


def decision_from_form(form: FormData) -> DecisionIn:
    """The decision form as a ``DecisionIn``; field errors name the form field."""
    action = form_text(form, "action")
    body: dict[str, Any] = {
        "action": action,
        "note": {name: form_text(form, f"note_{name}") for name, _, _ in NOTE_SECTIONS},
        "restrictions": [v for v in form.getlist("restrictions") if isinstance(v, str) and v],
    }
    if expires := _utc_input(form_text(form, "expires_at"), "expires_at"):
        body["expires_at"] = expires
    if due := _utc_input(form_text(form, "due_at"), "due_at"):
        body["due_at"] = due
    for name in ("hold_id", "restriction_id"):
        if value := form_text(form, name):
            if not value.isdigit():
                raise ValidationFailed("invalid choice", details=[{"field": name, "reason": value}])
            body[name] = int(value)
    if reason := form_text(form, "reason_code"):
        body["reason_code"] = reason
    # one radio group per held withdrawal of the case: hold_<id> = release | reject | "" (kept)
    body["holds"] = [
        {"hold_id": int(key.removeprefix("hold_")), "resolution": choice}
        for key in form
        if key.startswith("hold_")
        and key.removeprefix("hold_").isdigit()
        and (choice := form_text(form, key))
    ]
    body["holds_reason"] = form_text(form, "holds_reason")
    try:
        return msgspec.convert(body, DecisionIn)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(
            "the decision form is incomplete",
            details=[{"field": "action", "reason": "choose an action" if not action else str(exc)}],
        ) from None


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: RowIdPath, db: DbSession, user: PageUser, types: str | None = None
) -> Response:
    """Header, alerts, account summary and timeline, decision form, approvals, history, notes."""
    principal = user.principal
    detail = cases.case_detail(db, principal, case_id)
    case = detail.case
    context: dict[str, Any] = {
        "d": detail,
        "c": case,
        "mine": case.assignee_id is not None and case.assignee_id == principal.id,
        "can_work": principal.can(Permission.CASE_WORK),
        "can_approve": principal.can(Permission.CASE_APPROVE),
        "can_lift": principal.can(Permission.ACCOUNT_RESTRICT),
        "can_amend": principal.can(Permission.CASE_WORK),
        "can_reopen": principal.can(Permission.CASE_REOPEN),
        "assignable": (
            cases.assignable_users(db, principal)
            if principal.can(Permission.CASE_ASSIGN) and case.status != "closed"
            else []
        ),
        "pending": [a for a in detail.actions if a.status is ActionStatus.PENDING_APPROVAL],
        "actions": ACTIONS,
        "restriction_kinds": RESTRICTIONS,
        "dismiss_reasons": DISMISS_REASONS,
        "note_sections": NOTE_SECTIONS,
        "s": None,
        "x": None,
    }
    if case.account_id is not None and principal.can(Permission.ACCOUNT_VIEW):
        context.update(_account_context(db, principal, case.account_id))
        page = timeline(db, principal, case.account_id, types=parse_types(types))
        context.update(timeline_context(page, case.account_id, types))
    context["held"] = case_holds.held_withdrawals(db, principal, case_id)
    context.update(case_reviews(db, principal, case.account_id, detail.alerts))
    return render(request, "case.html", context)


def _account_context(session: Session, principal: Principal, account_id: str) -> dict[str, Any]:
    """The case's account: the 360 (rating, linked accounts and graph, intel on its values)
    when riskops can gather it, else the summary (an id stored before the identifier bounds,
    an account no longer known by any event: the case page still opens)."""
    try:
        full = investigation.account_360(session, principal, account_id)
    except (NotFound, ValidationFailed):
        return {"s": investigation.account_summary(session, principal, account_id), "x": None}
    linked = full.links.accounts if full.links is not None else []
    return {
        "s": full,
        "x": full,
        "linked_standing": standings(session, [a.account_id for a in linked]),
    }


@router.post("/cases/{case_id}/assign-me")
def assign_me(request: Request, case_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """Assign the case to myself (taking it from someone else needs case:assign)."""
    if user.principal.id is None:
        raise ValidationFailed("only a person can be assigned cases")
    cases.assign(db, user.principal, case_id, user.principal.id)
    return see_other(f"/cases/{case_id}?done=assigned", request)


@router.post("/cases/{case_id}/assign")
def assign_to(
    request: Request,
    case_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    user_id: Annotated[str, Form()] = "",
) -> Response:
    """Give the case to someone else, or back to its queue (needs case:assign)."""
    if user_id == "":
        cases.unassign(db, user.principal, case_id)
        return see_other(f"/cases/{case_id}?done=unassigned", request)
    if not user_id.isdigit():
        raise ValidationFailed(
            "choose who gets the case", details=[{"field": "user_id", "reason": "not a user"}]
        )
    cases.assign(db, user.principal, case_id, int(user_id))
    return see_other(f"/cases/{case_id}?done=assigned", request)


@router.post("/cases/{case_id}/start-review")
def start_review(request: Request, case_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    cases.start_review(db, user.principal, case_id)
    return see_other(f"/cases/{case_id}?done=review", request)


async def _decision_body(request: Request) -> DecisionIn:
    return decision_from_form(await request.form())


DecisionForm = Annotated[DecisionIn, Depends(_decision_body)]


@router.post("/cases/{case_id}/decide")
def decide(
    request: Request, case_id: RowIdPath, db: DbSession, user: PageUser, body: DecisionForm
) -> Response:
    """The decision form: a note in five sections and one action."""
    result = decisions.decide(db, user.principal, case_id, body)
    done = "proposed" if result.pending_approval else "decided"
    return see_other(f"/cases/{case_id}?done={done}", request)


@router.post("/approvals/{action_id}/approve")
def approve(
    request: Request,
    action_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    comment: Annotated[LongText, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Approve someone else's high-impact action: it runs now."""
    result = decisions.approve(db, user.principal, action_id, comment)
    return _after_approval(request, result, back, "approved")


@router.post("/approvals/{action_id}/refuse")
def refuse(
    request: Request,
    action_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    comment: Annotated[LongText, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Refuse someone else's high-impact action, saying why: the case goes back to review."""
    result = decisions.refuse(db, user.principal, action_id, comment)
    return _after_approval(request, result, back, "refused")


def _after_approval(
    request: Request, result: decisions.DecisionResult, back: str, done: str
) -> Response:
    """Back to the approvals list when the form came from there, else to the case."""
    target = "/approvals" if back == "approvals" else f"/cases/{result.case.id}"
    return see_other(f"{target}?done={done}", request)


@router.post("/cases/{case_id}/notes/{note_id}/amend")
def amend_note(
    request: Request,
    case_id: RowIdPath,
    note_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    text: Annotated[LongText, Form()] = "",
) -> Response:
    """Append an amendment to a note (a written note is never edited)."""
    lifecycle.amend_note(db, user.principal, note_id, text)
    return see_other(f"/cases/{case_id}?done=amended#note-{note_id}", request)


@router.post("/cases/{case_id}/reopen")
def reopen(
    request: Request,
    case_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    reason: Annotated[LongText, Form()] = "",
) -> Response:
    """Reopen a closed case, saying why (senior analysts, managers, compliance)."""
    lifecycle.reopen(db, user.principal, case_id, reason)
    return see_other(f"/cases/{case_id}?done=reopened", request)
