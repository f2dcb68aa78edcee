"""HTTP API of intake: SMS provider signals, service requests, received email.

Endpoints parse, authenticate, call one service function and return; permission checks are
in the services. Bodies are decoded with msgspec; a refused SMS signal is kept in the
dead-letter store (its own transaction: the request's is rolled back by the 422).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from riskops.auth.http import CurrentPrincipal
from riskops.auth.permissions import Permission, require
from riskops.events.api import bound_rules
from riskops.events.validation import FieldError
from riskops.http.bodies import json_response, read_body
from riskops.http.deps import DbSession, container
from riskops.http.openapi import json_body, schema_of
from riskops.http.params import Limit, Offset, PositionPath, RowIdPath
from riskops.http.security import download_headers, download_type
from riskops.intake import schemas as sc
from riskops.intake import service, service_requests, sms
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import ValidationFailed

router = APIRouter(prefix="/v1", tags=["intake"])
MAX_SIGNAL_BYTES = 64 * 1024


def _refuse(errors: list[FieldError], message: str) -> ValidationFailed:
    details = [{"field": e.field, "reason": e.reason} for e in errors]
    return ValidationFailed(message, details=details)


def _dead_letter(sessions: sessionmaker[Session], raw: bytes, errors: list[FieldError]) -> None:
    with unit_of_work(sessions) as session:
        sms.dead_letter(session, sms.rejection(raw, errors))


_SMS_DOC = {
    **json_body(sc.SmsSignal, "A provider signal, signed with X-Riskops-Signature."),
    "parameters": sms.SIGNED_HEADERS,
    "responses": {
        "202": {
            "description": "Stored: the alert(s) and provider.signal event(s).",
            "content": {"application/json": {"schema": schema_of(sc.SignalOut)}},
        },
        "401": {"description": "Unsigned, badly signed, stale, or no API token."},
        "403": {"description": "The token lacks `signal:submit`."},
        "422": {"description": "Malformed body: every bad field has a reason; kept."},
        "503": {"description": "RISKOPS_SMS_HMAC_SECRET is not set."},
    },
}


@router.post("/signals/sms", summary="Receive an SMS provider signal", openapi_extra=_SMS_DOC)
async def post_sms_signal(request: Request, db: DbSession, who: CurrentPrincipal) -> Response:
    """A SIM swap, number port or OTP delivery failure from the SMS provider.

    Signed by the provider (HMAC-SHA256 over ``<timestamp>.<body>``, timestamp within five
    minutes) and sent with an API token holding ``signal:submit``. Raises an alert
    (``account_takeover`` queue, or triage when no account has the phone) and logs a
    ``provider.signal`` event for each linked account. Idempotent on (provider, signal_id).
    """
    require(who, Permission.SIGNAL_SUBMIT)
    box = container(request)
    raw = await read_body(request, MAX_SIGNAL_BYTES)
    sms.verify_signature(box.settings.sms_hmac_secret, request.headers, raw)
    signal = sc.decode(raw, sc.SmsSignal)
    if isinstance(signal, list):
        await asyncio.to_thread(_dead_letter, box.sessions, raw, signal)
        raise _refuse(signal, "invalid SMS signal")
    result = await run_in_threadpool(sms.receive_signal, db, who, signal)
    return json_response(result, 202)


_SR_DOC = {
    **json_body(sc.ServiceRequestIn, "A support ticket for the risk team."),
    **bound_rules(sc.ServiceRequestIn),
    "responses": {
        "201": {
            "description": "The request's alert and case.",
            "content": {"application/json": {"schema": schema_of(sc.ServiceRequestOut)}},
        },
        "422": {"description": "Invalid body; every bad field has a reason."},
    },
}


@router.post(
    "/service-requests", summary="Raise a service request", status_code=201, openapi_extra=_SR_DOC
)
async def post_service_request(request: Request, db: DbSession, who: CurrentPrincipal) -> Response:
    """A dispute, appeal, unlock request or "not me" report from support.

    Opens (or joins) the account's case in the ``service_requests`` queue; needs
    ``service_request:create``. Idempotent on ``request_id``. An account riskops has no
    events of is still accepted, with a warning.
    """
    require(who, Permission.SERVICE_REQUEST_CREATE)
    body = sc.decode(await read_body(request, MAX_SIGNAL_BYTES), sc.ServiceRequestIn)
    if isinstance(body, list):
        raise _refuse(body, "invalid service request")
    result = await run_in_threadpool(service_requests.create_service_request, db, who, body)
    out = sc.ServiceRequestOut(
        request_id=result.alert.source_ref,
        alert_id=result.alert.id,
        case_id=result.case.id,
        queue=result.case.queue_key,
        created=result.created_alert,
        warnings=list(result.alert.detail.get("warnings", [])),
    )
    return json_response(out, 201 if result.created_alert else 200)


@router.get("/emails", summary="Received email, newest first")
def list_emails(
    db: DbSession,
    who: CurrentPrincipal,
    account_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Messages received by import or SMTP, with their links and attachment metadata."""
    return json_response(
        service.list_emails(db, who, limit=limit, offset=offset, account_id=account_id)
    )


@router.get("/emails/{email_id}", summary="One received email")
def get_email(email_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The message's text, the evidence that linked it to accounts, its attachments."""
    return json_response(service.email_detail(db, who, email_id))


@router.get("/emails/{email_id}/attachments/{position}", summary="Download an attachment")
def get_attachment(
    email_id: RowIdPath, position: PositionPath, db: DbSession, who: CurrentPrincipal
) -> Response:
    """The attachment's bytes (``position`` from 1, as listed), always as a download."""
    found = service.attachment(db, who, email_id, position)
    # Never rendered inline: an HTML or SVG attachment must not run in the console's origin.
    headers = download_headers(found.filename or "", f"attachment-{position}")
    headers["X-Attachment-Sha256"] = found.sha256
    return Response(found.content, media_type=download_type(found.content_type), headers=headers)


def include(app: FastAPI) -> None:
    """Mount the intake routes on the app."""
    app.include_router(router)
