"""The support form: a service request becomes an alert in the service-requests queue."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from riskops.auth.permissions import Permission, require
from riskops.http.deps import DbSession
from riskops.http.params import LongText, ShortText
from riskops.intake.schemas import ContactChannel, ServiceRequestIn, ServiceRequestKind
from riskops.intake.service_requests import create_service_request
from riskops.kernel.errors import ValidationFailed
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

KINDS = [
    (ServiceRequestKind.NOT_ME, "Customer says “this was not me”"),
    (ServiceRequestKind.DISPUTE, "Dispute"),
    (ServiceRequestKind.APPEAL, "Appeal of a restriction"),
    (ServiceRequestKind.UNLOCK_REQUEST, "Unlock request"),
]


def _form_context(values: dict[str, str], error: str | None = None) -> dict[str, object]:
    return {
        "kinds": KINDS,
        "channels": list(ContactChannel),
        "values": values,
        "error": error,
        "nav": "service_request",
    }


@router.get("/service-requests/new")
def new_request(request: Request, user: PageUser, account_id: str = "") -> Response:
    """The support form (account id, kind, subject, description)."""
    require(user.principal, Permission.SERVICE_REQUEST_CREATE)
    return render(request, "service_request.html", _form_context({"account_id": account_id}))


@router.post("/service-requests")
def submit_request(
    request: Request,
    db: DbSession,
    user: PageUser,
    account_id: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    subject: Annotated[ShortText, Form()] = "",
    description: Annotated[LongText, Form()] = "",
    request_id: Annotated[str, Form()] = "",
    contact_channel: Annotated[str, Form()] = "",
) -> Response:
    """Create the request's case (or join the account's open one) and open it."""
    values = {
        "account_id": account_id.strip(),
        "kind": kind,
        "subject": subject.strip(),
        "description": description.strip(),
        "request_id": request_id.strip(),
        "contact_channel": contact_channel,
    }
    body = {k: v for k, v in values.items() if v}
    try:
        parsed = msgspec.convert(body, ServiceRequestIn)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = text.split(" - at `$.", 1)[1].rstrip("`") if " - at `$." in text else ""
        problem = text.split(" - at `", 1)[0]
        error = f"{field.replace('_', ' ')}: {problem}" if field else problem
        if "required" in problem and "`" in problem:
            error = problem.replace("Object missing required field", "Please fill in")
        page = render(
            request, "service_request.html", _form_context(values, error), status_code=422
        )
        return page
    if not parsed.description.strip() or not parsed.subject.strip():
        raise ValidationFailed("a subject and a description are required")
    result = create_service_request(db, user.principal, parsed)
    return see_other(f"/cases/{result.case.id}?done=requested", request)
