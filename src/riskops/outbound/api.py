"""HTTP API of the outbound outbox: the messages and their delivery, a retry of a dead one,
and the exchange's webhook subscriptions.

Endpoints parse, authenticate, call one service function and render; the permissions
(``outbox:view``, ``outbox:retry``, ``webhook:manage``) and audit entries are the
service's. A subscription's secret is in the answer that made it, and never again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import errors, json_body
from riskops.http.params import Limit, Offset, RowIdPath
from riskops.outbound import schemas as sc
from riskops.outbound import service, webhooks
from riskops.outbound.models import Channel, Status

router = APIRouter(prefix="/v1", tags=["outbound"])

CaseIdQuery = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="one case")]


@router.get("/outbox", summary="Outbound messages (email, SMS, webhooks), newest first")
def list_outbox(
    db: DbSession,
    who: CurrentPrincipal,
    status: Status | None = None,
    channel: Channel | None = None,
    case_id: CaseIdQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Each message's channel, recipient, purpose, case, status, attempts, last error and
    sent time, with the total matching; needs ``outbox:view``; audited per account."""
    rows, total = service.list_messages(
        db, who, status=status, channel=channel, case_id=case_id, limit=limit, offset=offset
    )
    return json_response(sc.MessagePage(total, [sc.message_out(m) for m in rows]))


@router.get("/outbox/{message_id}", summary="One outbound message, its body and its attempts")
def get_message(message_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Needs ``outbox:view``; audited."""
    message, attempts = service.get_message(db, who, message_id)
    return json_response(sc.message_out(message, attempts, full=True))


@router.post(
    "/outbox/{message_id}/retry",
    summary="Send a dead message again",
    responses=errors(409),
)
def retry(message_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """A dead message is due again now with a fresh count of attempts (same message id, so
    a receiver that got an earlier attempt drops this one); needs ``outbox:retry``; only a
    dead message (409 otherwise); audited."""
    service.retry(db, who, message_id)
    message, attempts = service.get_message(db, who, message_id)
    return json_response(sc.message_out(message, attempts))


@router.post(
    "/webhooks",
    summary="Subscribe a URL to domain events",
    status_code=201,
    openapi_extra=json_body(sc.SubscriptionIn, "`{url, topics, description?}`."),
)
def subscribe(
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.SubscriptionIn = msgspec_body(sc.SubscriptionIn),
) -> Response:
    """Needs ``webhook:manage``. The answer carries the signing ``secret``, shown this once:
    each delivery is signed ``X-Riskops-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<body>">`` and carries ``X-Riskops-Message-Id`` (drop a repeat). Audited."""
    sub = webhooks.create_subscription(
        db, who, url=body.url, topics=body.topics, description=body.description
    )
    return json_response(sc.subscription_out(sub, with_secret=True), 201)


@router.get("/webhooks", summary="Webhook subscriptions")
def list_subscriptions(db: DbSession, who: CurrentPrincipal) -> Response:
    """Active subscriptions, without their secrets; needs ``webhook:manage``."""
    return json_response([sc.subscription_out(s) for s in webhooks.list_subscriptions(db, who)])


@router.get("/webhooks/{subscription_id}", summary="One webhook subscription")
def get_subscription(subscription_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Without its secret; needs ``webhook:manage``."""
    return json_response(sc.subscription_out(webhooks.get_subscription(db, who, subscription_id)))


@router.delete("/webhooks/{subscription_id}", summary="Unsubscribe", status_code=204)
def unsubscribe(subscription_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """No more deliveries (queued ones to it go dead); needs ``webhook:manage``; audited."""
    webhooks.delete_subscription(db, who, subscription_id)
    return Response(status_code=204)


def include(app: FastAPI) -> None:
    """Mount the outbound routes on the app."""
    app.include_router(router)
