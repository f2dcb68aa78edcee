"""Held withdrawals: oldest first, released or rejected in one click with a note."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from riskops.cases.domain import QUEUE_SLA
from riskops.http.deps import DbSession
from riskops.http.params import LongText, Page, RowIdPath
from riskops.investigation import service as investigation
from riskops.monitor import service as monitor
from riskops.web.console.routing import ConsoleRoute, PageUser, is_htmx, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
HOLD_SLA = timedelta(minutes=QUEUE_SLA.get("held_withdrawals", 15))


@router.get("/holds")
def holds_page(request: Request, db: DbSession, user: PageUser, page: Page = 1) -> Response:
    """Withdrawals held by the monitor, oldest first, each with release / reject."""
    items, total = investigation.held_withdrawals(
        db, user.principal, limit=PAGE, offset=(page - 1) * PAGE
    )
    context = {
        "items": items,
        "total": total,
        "page": page,
        "has_more": page * PAGE < total,
        "hold_sla": HOLD_SLA,
        "nav": "holds",
    }
    return render(request, "holds.html", context)


@router.post("/holds/{hold_id}/resolve")
def resolve_hold(
    request: Request,
    hold_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    action: Annotated[str, Form()] = "",
    note: Annotated[LongText, Form()] = "",
) -> Response:
    """Release or reject with a note; htmx swaps the row for its resolved state. The hold's
    case hears of it through the outbox (``riskops.cases.holds.deliver``)."""
    hold = monitor.resolve_hold(db, user.principal, hold_id, action, note)
    if not is_htmx(request):
        return see_other("/holds", request)
    item = investigation.HeldWithdrawal(hold, None)
    return render(request, "_hold_row.html", {"item": item, "hold_sla": HOLD_SLA})
