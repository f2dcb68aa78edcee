"""Actions waiting for a second person (four-eyes): full freeze, offboarding, SAR referral.

Case actions (decided on a case) and account actions (asked for over the API, outside a
case) wait side by side; approving or refusing an account action here calls the same
``accounts.service`` functions as ``/v1/account-actions``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from riskops.accounts import service as accounts
from riskops.accounts.models import AccountActionStatus
from riskops.auth.permissions import Permission
from riskops.cases import decisions
from riskops.cases import service as cases
from riskops.cases.models import CaseStatus
from riskops.http.deps import DbSession
from riskops.http.params import LongText, RowIdPath
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/approvals")
def approvals_page(request: Request, db: DbSession, user: PageUser) -> Response:
    """Approvers see every pending action (their own marked "waiting for someone else");
    an analyst sees their own cases and account actions that wait for someone's approval."""
    principal = user.principal
    can_approve = principal.can(Permission.CASE_APPROVE)
    pending = decisions.list_approvals(db, principal) if can_approve else []
    waiting_mine = [
        c for c in cases.my_cases(db, principal) if c.status is CaseStatus.WAITING_APPROVAL
    ]
    account_actions = []
    if principal.can(Permission.ACCOUNT_VIEW):
        waiting = AccountActionStatus.PENDING_APPROVAL
        account_actions = [
            a
            for a in accounts.account_actions(db, principal, status=waiting)
            if can_approve or a.requested_by == principal.name
        ]
    context = {
        "pending": pending,
        "account_actions": account_actions,
        "waiting_mine": waiting_mine,
        "can_approve": can_approve,
        "nav": "approvals",
        "back": "approvals",
        "show_case": True,
    }
    return render(request, "approvals.html", context)


@router.post("/approvals/account-actions/{action_id}/approve")
def approve_account_action(
    request: Request,
    action_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    comment: Annotated[LongText, Form()] = "",
) -> Response:
    """Approve someone else's full freeze or offboarding: the restriction is imposed now."""
    accounts.approve(db, user.principal, action_id, comment)
    return see_other("/approvals?done=approved", request)


@router.post("/approvals/account-actions/{action_id}/refuse")
def refuse_account_action(
    request: Request,
    action_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    comment: Annotated[LongText, Form()] = "",
) -> Response:
    """Refuse someone else's full freeze or offboarding, saying why: nothing happens."""
    accounts.refuse(db, user.principal, action_id, comment)
    return see_other("/approvals?done=account_refused", request)
