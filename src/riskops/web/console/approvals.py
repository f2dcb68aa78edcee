"""Actions waiting for a second person (four-eyes): full freeze, offboarding, SAR referral."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from riskops.auth.permissions import Permission
from riskops.cases import decisions
from riskops.cases import service as cases
from riskops.cases.models import CaseStatus
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.templating import render
from riskops.web.deps import DbSession

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/approvals")
def approvals_page(request: Request, db: DbSession, user: PageUser) -> Response:
    """Approvers see every pending action (their own marked "waiting for someone else");
    an analyst sees their own cases that wait for someone's approval."""
    principal = user.principal
    can_approve = principal.can(Permission.CASE_APPROVE)
    pending = decisions.list_approvals(db, principal) if can_approve else []
    waiting_mine = [
        c for c in cases.my_cases(db, principal) if c.status is CaseStatus.WAITING_APPROVAL
    ]
    context = {
        "pending": pending,
        "waiting_mine": waiting_mine,
        "can_approve": can_approve,
        "nav": "approvals",
        "back": "approvals",
        "show_case": True,
    }
    return render(request, "approvals.html", context)
