"""The case page's contact panel: pick a template and a channel, preview, send.

A lazily loaded fragment (``/cases/{id}/contact``); the preview and the send are htmx
posts of the panel's form. Keyboard (``static/console.js``): ``c`` focuses the template
list, Enter on a template previews it, Ctrl+Enter sends. Each route parses the form, calls
one ``contact.service`` function and renders; permissions, the tipping-off guard and the
audit entries are the service's (ADR 0033).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import Response

from riskops.accounts.models import RestrictionKind
from riskops.contact import service
from riskops.contact.schemas import MessageIn
from riskops.contact.templating import LANGUAGES
from riskops.http.deps import DbSession, container
from riskops.http.params import RowIdPath
from riskops.kernel.errors import ValidationFailed
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
_FIELDS = ("template", "channel", "language", "details", "restriction", "subject", "message")


def _message(form: Any) -> MessageIn:
    """The panel's form as a MessageIn; ValidationFailed naming each bad field."""
    data: dict[str, Any] = {}
    for name in _FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            data[name] = value.strip() if name not in ("details", "message") else value
    due = form.get("due_at")
    if isinstance(due, str) and due.strip():
        try:  # a datetime-local field: no zone, read as UTC (the console shows UTC)
            moment = datetime.fromisoformat(due.strip())
        except ValueError:
            raise ValidationFailed(
                "the due date is not a date and time",
                details=[{"field": "$.due_at", "reason": "YYYY-MM-DDTHH:MM (UTC)"}],
            ) from None
        data["due_at"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    note = form.get("note")
    if isinstance(note, str):
        data["note"] = note
    try:
        return msgspec.convert(data, MessageIn)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(
            "some values are not valid", details=[{"field": "$", "reason": str(exc)}]
        ) from None


@router.get("/cases/{case_id}/contact")
def contact_panel(request: Request, case_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """The panel fragment: templates, the account's channels, messages sent and replies."""
    panel = service.panel(db, user.principal, case_id)
    return render(
        request,
        "contact_panel.html",
        {
            "p": panel,
            "languages": LANGUAGES,
            "restrictions": [k.value for k in RestrictionKind],
        },
    )


@router.post("/cases/{case_id}/contact/preview")
async def contact_preview(
    request: Request, case_id: RowIdPath, db: DbSession, user: PageUser
) -> Response:
    """The rendered message (HTML in a sandboxed frame) and whether it may be sent."""
    body = _message(await request.form())
    shown = service.preview(db, user.principal, case_id, body)
    return render(request, "contact_preview.html", {"v": shown, "case_id": case_id})


@router.post("/cases/{case_id}/contact/send")
async def contact_send(
    request: Request, case_id: RowIdPath, db: DbSession, user: PageUser
) -> Response:
    """Send it (the information request also makes the case wait); back to the case."""
    body = _message(await request.form())
    settings = container(request).settings
    service.send(db, user.principal, case_id, body, settings=settings)
    return see_other(f"/cases/{case_id}?done=contacted#case-contact", request)
