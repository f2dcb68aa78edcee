"""The audit trail page (managers, compliance): who did or saw what, when."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from riskops.audit.service import trail
from riskops.http.deps import DbSession
from riskops.http.params import BeforeId
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 100


@router.get("/audit")
def audit_page(
    request: Request,
    db: DbSession,
    user: PageUser,
    subject_type: str = "",
    subject_id: str = "",
    actor: str = "",
    before: BeforeId = None,
) -> Response:
    """Newest entries first, filtered by subject or actor (needs ``audit:view``)."""
    entries = trail(
        db,
        user.principal,
        subject_type=subject_type or None,
        subject_id=subject_id or None,
        actor=actor or None,
        limit=PAGE,
        before_id=before,
    )
    context = {
        "entries": entries,
        "filters": {"subject_type": subject_type, "subject_id": subject_id, "actor": actor},
        "next_before": entries[-1].id if len(entries) == PAGE else None,
        "nav": "audit",
    }
    return render(request, "audit.html", context)
