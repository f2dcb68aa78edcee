"""The outbox pages: /outbox (every message that leaves riskops, filtered by status and
channel, with a retry button for dead ones), one message with its body and attempts, and
the case page's delivery panel (a fragment loaded by htmx).

Each route parses, calls one ``outbound.service`` function and renders; the permissions
(``outbox:view``, ``outbox:retry``) and audit entries are the service's.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from riskops.auth.permissions import Permission
from riskops.http.deps import DbSession
from riskops.http.params import Page, RowIdPath
from riskops.kernel.errors import ValidationFailed
from riskops.outbound import service
from riskops.outbound.models import Channel, Status
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
STATUS_LABEL = {
    "queued": "warn",
    "sending": "warn",
    "retrying": "warn",
    "sent": "ok",
    "dead": "bad",
}


E = TypeVar("E", Status, Channel)


def _choice(kind: type[E], value: str, field: str) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        raise ValidationFailed(
            f"unknown {field} {value!r}", details={field: f"one of {known}"}
        ) from None


@router.get("/outbox")
def outbox_page(
    request: Request,
    db: DbSession,
    user: PageUser,
    status: str = "",
    channel: str = "",
    page: Page = 1,
) -> Response:
    """Messages newest first, filtered by status and channel (needs ``outbox:view``)."""
    wanted_status = _choice(Status, status, "status")
    wanted_channel = _choice(Channel, channel, "channel")
    rows, total = service.list_messages(
        db,
        user.principal,
        status=wanted_status,
        channel=wanted_channel,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    filters = {"status": status, "channel": channel}
    context: dict[str, Any] = {
        "messages": rows,
        "total": total,
        "page": page,
        "has_more": page * PAGE < total,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "statuses": [s.value for s in Status],
        "channels": [c.value for c in Channel],
        "can_retry": user.principal.can(Permission.OUTBOX_RETRY),
        "badge": STATUS_LABEL,
        "nav": "outbox",
    }
    if request.query_params.get("retried"):
        context["flash"] = "Queued again: it goes out on the next pass."
        context["flash_kind"] = "ok"
    return render(request, "outbox.html", context)


@router.get("/outbox/{message_id}")
def message_page(
    request: Request, message_id: RowIdPath, db: DbSession, user: PageUser
) -> Response:
    """One message: its body as sent, its status and every attempt (needs ``outbox:view``)."""
    message, attempts = service.get_message(db, user.principal, message_id)
    context = {
        "msg": message,
        "attempts": attempts,
        "can_retry": user.principal.can(Permission.OUTBOX_RETRY),
        "badge": STATUS_LABEL,
        "nav": "outbox",
    }
    return render(request, "outbox_message.html", context)


@router.post("/outbox/{message_id}/retry")
def retry(request: Request, message_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """Send a dead message again (needs ``outbox:retry``); back to where the button was."""
    service.retry(db, user.principal, message_id)
    back = request.headers.get("HX-Current-URL") or ""
    target = f"/outbox/{message_id}" if f"/outbox/{message_id}" in back else "/outbox"
    return see_other(f"{target}?retried=1", request)


@router.get("/cases/{case_id}/outbox")
def case_panel(request: Request, case_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """The case page's delivery panel: every message of this case with its status,
    attempts, last error and sent time."""
    allowed = user.principal.can(Permission.OUTBOX_VIEW)
    rows = service.for_case(db, user.principal, case_id) if allowed else []
    context = {"messages": rows, "case_id": case_id, "allowed": allowed, "badge": STATUS_LABEL}
    return render(request, "outbox_case_panel.html", context)
