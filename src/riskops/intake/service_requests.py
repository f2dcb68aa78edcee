"""Service requests: support tickets that need a risk analyst become alerts in their queue.

A request always opens (or joins) a case in the ``service_requests`` queue, even when
riskops has never seen an event of the account: support is asking about that account, the
account may simply be newer than the last event that reached riskops, and a ticket must
not be parked in triage where the service-request SLA does not apply. Such a request is
marked (``detail.account_known = false``) and the caller gets a warning, so the analyst
checks the id before acting.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.auth.permissions import Permission, Principal, require
from riskops.cases.alert_intake import IntakeResult, raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.intake import repository as repo
from riskops.intake.schemas import ServiceRequestIn, ServiceRequestKind

QUEUE = "service_requests"
SEVERITY = {
    ServiceRequestKind.NOT_ME: 70,
    ServiceRequestKind.DISPUTE: 50,
    ServiceRequestKind.APPEAL: 40,
    ServiceRequestKind.UNLOCK_REQUEST: 30,
}
_TYPOLOGY = {ServiceRequestKind.NOT_ME: "account_takeover"}
_LABEL = {
    ServiceRequestKind.NOT_ME: "Customer says it was not them",
    ServiceRequestKind.DISPUTE: "Dispute",
    ServiceRequestKind.APPEAL: "Appeal of a restriction",
    ServiceRequestKind.UNLOCK_REQUEST: "Unlock request",
}
UNKNOWN_ACCOUNT = "riskops has no event of this account yet; check the account id"


def create_service_request(
    session: Session,
    principal: Principal,
    body: ServiceRequestIn,
    *,
    now: datetime | None = None,
) -> IntakeResult:
    """Raise a service request as an alert in the ``service_requests`` queue; never commits.

    Needs ``service_request:create`` (analysts, and API tokens with that scope). Idempotent
    on ``request_id``; without one a new id (``sr-<uuid>``) is made, so send the helpdesk
    ticket id to make retries safe. The result's ``alert.detail["warnings"]`` lists what the
    analyst should know (an account riskops has not seen).
    """
    require(principal, Permission.SERVICE_REQUEST_CREATE)
    request_id = body.request_id or f"sr-{uuid.uuid4().hex}"
    known = bool(repo.known_accounts(session, [body.account_id]))
    warnings = [] if known else [UNKNOWN_ACCOUNT]
    alert = AlertIn(
        source=AlertSource.SERVICE_REQUEST,
        source_ref=request_id,
        account_id=body.account_id,
        kind=body.kind.value,
        title=f"{_LABEL[body.kind]}: {body.subject}"[:256],
        severity=SEVERITY[body.kind],
        typology=_TYPOLOGY.get(body.kind),
        reason=body.description,
        detail={
            "request_id": request_id,
            "subject": body.subject,
            "raised_by": body.raised_by or principal.name,
            "submitted_by": principal.name,
            "contact_channel": body.contact_channel.value if body.contact_channel else None,
            "account_known": known,
            "warnings": warnings,
        },
        occurred_at=now,
        queue_key=QUEUE,
    )
    return raise_alert(session, alert, now=now)
