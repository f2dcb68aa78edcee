"""HTTP API of contact: the templates, preview and send a message from a case, and the SMS
provider's signed webhook for customer replies.

Endpoints parse, authenticate, call one ``contact`` function and return; the permission,
the tipping-off guard and the audit entry are the service's (ADR 0033).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from riskops.auth.http import CurrentPrincipal
from riskops.contact import replies, service
from riskops.contact import schemas as sc
from riskops.http.bodies import decode_json, json_response, msgspec_body, read_body
from riskops.http.deps import DbSession, container
from riskops.http.openapi import errors, json_body, rules, schema_of
from riskops.http.params import RowIdPath
from riskops.intake.sms import SIGNED_HEADERS
from riskops.kernel.clock import utcnow

router = APIRouter(prefix="/v1", tags=["contact"])
MAX_INBOUND_BYTES = 64 * 1024
_MESSAGE_RULES = rules(
    ("$.template", "one of GET /v1/contact/templates"),
    ("$.due_at", "request_info: required, a future time"),
    ("$.details", "request_info: required"),
    ("$.restriction", "restriction_applied / restriction_lifted: required"),
    ("$.message", "custom: required, and no tipping-off wording (403 tipping_off)"),
    ("$.channel", "one the account can receive (an email or phone in its events)"),
)


@router.get("/contact/templates", summary="Message templates for account holders")
def list_templates(who: CurrentPrincipal) -> Response:
    """Every template (request for information, restriction applied / lifted, security
    education, custom) with the values it needs and its languages; needs ``contact:send``."""
    return json_response(service.list_templates(who))


@router.post(
    "/cases/{case_id}/messages/preview",
    summary="Preview a message to the case's account holder",
    openapi_extra={
        **json_body(sc.MessageIn, "The template, channel and the template's values."),
        **_MESSAGE_RULES,
        "responses": {
            "200": {
                "description": "The rendered message and whether it may be sent.",
                "content": {"application/json": {"schema": schema_of(sc.PreviewOut)}},
            }
        },
    },
)
def preview(
    case_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.MessageIn = msgspec_body(sc.MessageIn),
) -> Response:
    """Subject, text, HTML and SMS as the customer would get them, in the account's language
    (``fallback_from`` when it fell back to English), with ``blocked`` set when sending
    would be refused; needs ``contact:send``; audited."""
    return json_response(service.preview(db, who, case_id, body))


@router.post(
    "/cases/{case_id}/messages",
    summary="Send a message to the case's account holder",
    status_code=201,
    responses=errors(409),
    openapi_extra={
        **json_body(sc.MessageIn, "The template, channel and the template's values."),
        **_MESSAGE_RULES,
        "responses": {
            "201": {
                "description": "Queued on the outbox; the case history and audit say so.",
                "content": {"application/json": {"schema": schema_of(sc.SentOut)}},
            }
        },
    },
)
def send(
    request: Request,
    case_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.MessageIn = msgspec_body(sc.MessageIn),
) -> Response:
    """Queue the message on the outbound outbox with the case's history entry and the audit
    entry, in one transaction; needs ``contact:send``. ``request_info`` also puts the case
    in waiting for the customer until ``due_at`` (needs ``case:work``, the case yours).
    Refused (403 ``tipping_off``) when the message would reveal a report or an inquiry by
    authorities."""
    settings = container(request).settings
    return json_response(service.send(db, who, case_id, body, settings=settings), 201)


_SMS_DOC = {
    **json_body(sc.SmsInbound, "An SMS a customer sent, signed with X-Riskops-Signature."),
    "parameters": SIGNED_HEADERS,
    "responses": {
        "202": {
            "description": "Kept; attached to the account's open case when there is one.",
            "content": {"application/json": {"schema": schema_of(sc.SmsInboundOut)}},
        },
        "401": {"description": "Unsigned, badly signed or stale."},
        "409": {"description": "This provider message id was already received (a replay)."},
        "422": {"description": "Malformed body: every bad field has a reason."},
        "503": {"description": "RISKOPS_SMS_INBOUND_SECRET is not set."},
    },
}


@router.post(
    "/contact/sms-inbound", summary="Receive a customer's SMS reply", openapi_extra=_SMS_DOC
)
async def sms_inbound(request: Request, db: DbSession) -> Response:
    """The SMS provider forwards a customer's text. Signed by the provider (HMAC-SHA256 over
    ``<timestamp>.<body>`` with ``RISKOPS_SMS_INBOUND_SECRET``, timestamp within five
    minutes); a replayed message id is refused. The sender's phone finds the account and
    its open case; a case waiting for the customer goes back to review."""
    raw = await read_body(request, MAX_INBOUND_BYTES)
    replies.verify(
        container(request).settings.sms_inbound_secret, request.headers, raw, now=utcnow()
    )
    inbound = decode_json(raw, sc.SmsInbound)
    return json_response(await run_in_threadpool(replies.receive, db, inbound), 202)


def include(app: FastAPI) -> None:
    """Mount the contact routes on the app."""
    app.include_router(router)
