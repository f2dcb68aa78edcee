"""HTTP API of the monitor: synchronous decisions, holds, alerts, decisions.

Account restrictions are ``riskops.accounts.api``'s.

Endpoints parse, call one service function and return. Bodies are decoded with msgspec
and responses encoded with msgspec: the decision endpoint is a hot path.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from riskops.auth.http import CurrentPrincipal, authorize, requires
from riskops.auth.permissions import Permission, Principal
from riskops.auth.refusals import audit_refusal
from riskops.events.api import event_rules
from riskops.events.schemas import AnyEvent, Event
from riskops.events.service import ingest
from riskops.events.validation import Rejection, decode
from riskops.http.bodies import error_response, json_response, msgspec_body, read_body
from riskops.http.deps import DbSession, container
from riskops.http.openapi import errors, json_body, rules, schema_of
from riskops.http.params import Limit, Offset, RowIdPath
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import RiskopsError, ValidationFailed
from riskops.monitor import schemas as sc
from riskops.monitor import service
from riskops.monitor.models import HoldStatus
from riskops.monitor.runtime import MonitorRuntime

router = APIRouter(prefix="/v1", tags=["monitor"])
DECISIONS = "/v1/decisions"
DECIDER = "decider"
"""The ``app.state`` attribute where the composition puts the ``Decider`` of
``POST /v1/decisions`` (``riskops serve --bus nats``: ``riskops.cluster.routing``'s, which
asks the owner of the account); without one, this process's monitor runtime decides."""


class Decider(Protocol):
    """Who decides a synchronous decision's events: an answer (or error) each, in order."""

    async def decide(self, events: list[Event]) -> list[sc.DecisionResponse | Exception]: ...


_DECIDE_DOC = {
    **json_body(AnyEvent, "One event, usually a withdrawal.requested, in the flat wire format."),
    "responses": {
        "200": {
            "description": "The decision, with the reasons of every live rule that hit. "
            "Where decisions are routed to the account's partition worker (`riskops serve "
            "--bus nats`) and it does not answer in time, the configured fail-safe decision "
            "(hold by default) with one reason, rule `FAILSAFE`, saying why; the event is "
            "queued for the worker: ask again with the same `event_id` for its decision.",
            "content": {"application/json": {"schema": schema_of(sc.DecisionResponse)}},
        },
        "422": {"description": "The event is invalid; every bad field has a reason."},
        "503": {
            **errors(503)["503"],
            "description": "Busy; or the event is logged but the monitor could not decide "
            "it: it is quarantined (`undecidable`, `details.dead_letter_id`). Either way the "
            "withdrawal is not approved.",
        },
        **errors(413),
    },
    **event_rules(),
}


@router.post(
    "/decisions",
    summary="Decide one event now (before a withdrawal is sent)",
    openapi_extra=_DECIDE_DOC,
)
async def decide(
    request: Request, _who: Principal = requires(Permission.DECISION_REQUEST)
) -> Response:
    """Log the event (idempotent on ``event_id``) and return the monitor's decision.

    Needs an API token with the ``decision:request`` scope (verified tokens are cached in
    the process for 30 s, so the check costs no database read on the hot path).
    Response: ``{event_id, decision: allow|review|hold|block, score, reasons, hold_id}``.
    A repeated ``event_id`` returns the decision already made.
    """
    return await _decision(request)


async def _decision(request: Request) -> Response:
    box = container(request)
    # Capped like POST /v1/events: a body past max_body_bytes is refused (413) before it
    # is read whole, and, like there, not dead-lettered (it is never held in full). A body
    # under the cap but over max_event_bytes is an invalid event: dead-lettered below.
    body = await read_body(request, box.settings.max_body_bytes)
    result = decode(body, max_bytes=box.settings.max_event_bytes)
    if isinstance(result, Rejection):
        # Nothing is lost: the refused payload and its reasons go to the dead-letter store.
        await asyncio.to_thread(_dead_letter, box.sessions, result)
        details = [{"field": e.field, "reason": e.reason} for e in result.errors]
        raise ValidationFailed("invalid event", details=details)
    decider: Decider | None = getattr(request.app.state, DECIDER, None)
    if decider is None:
        return json_response(await box.component(MonitorRuntime).decide_now(result))
    # Authenticated, bounded and validated above: only a valid event leaves the process.
    [answer] = await decider.decide([result])
    if isinstance(answer, Exception):
        raise answer
    return json_response(answer)


class DecisionLane:
    """ASGI middleware that answers ``POST /v1/decisions`` itself, the exchange's hot path.

    The route above documents the endpoint and answers the same way; this lane skips
    FastAPI's routing and dependency solving, which took more of the server's time than
    deciding (py-spy, on the decision benchmark). Authentication, the CSRF check, the
    permission and the error bodies are the same functions the route's dependencies use.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != DECISIONS or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await authorize(request, Permission.DECISION_REQUEST)
            response = await _decision(request)
        except RiskopsError as exc:
            await audit_refusal(request, exc)
            response = error_response(exc)
        await response(scope, receive, send)


def _dead_letter(sessions: sessionmaker[Session], rejection: Rejection) -> None:
    with unit_of_work(sessions) as session:
        ingest(session, [(None, rejection)], source="api", source_name="/v1/decisions")


@router.get("/decisions", summary="The decision log, newest first")
def list_decisions(
    db: DbSession,
    account_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    who: Principal = requires(Permission.CASE_VIEW),
) -> Response:
    """Stored decisions (every non-allow, every withdrawal, every decision with a hit);
    the accounts shown are recorded in the audit trail."""
    rows = service.decisions(db, who, account_id=account_id, limit=limit, offset=offset)
    return json_response([sc.decision_out(d) for d in rows])


@router.get("/alerts", summary="Rule hits (live and shadow), newest first")
def list_alerts(
    db: DbSession,
    account_id: str | None = None,
    rule_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    who: Principal = requires(Permission.CASE_VIEW),
) -> Response:
    """Alerts from the monitor's rules, filterable by account and rule; audited."""
    rows = service.alerts(
        db, who, account_id=account_id, rule_id=rule_id, limit=limit, offset=offset
    )
    return json_response([sc.alert_out(a) for a in rows])


@router.get("/holds", summary="Held withdrawals")
def list_holds(
    db: DbSession,
    status: HoldStatus | None = HoldStatus.HELD,
    limit: Limit = 50,
    offset: Offset = 0,
    who: Principal = requires(Permission.CASE_VIEW),
) -> Response:
    """Withdrawals held by the monitor, oldest first (``status=held`` by default); audited."""
    rows = service.holds(db, who, status=status, limit=limit, offset=offset)
    return json_response([sc.hold_out(h) for h in rows])


_RESOLUTION_DOC = {
    **json_body(sc.HoldResolution, "`{note}`: why (required)."),
    **rules(("$.note", "says why: required, not blank")),
    "responses": errors(409),
}


@router.post(
    "/holds/{hold_id}/release",
    summary="Release a held withdrawal",
    openapi_extra=_RESOLUTION_DOC,
)
def release_hold(
    hold_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.HoldResolution = msgspec_body(sc.HoldResolution),
) -> Response:
    """Release a ``held`` withdrawal (``hold:resolve``); ``{note}``, the note is required.
    The caller is recorded as who resolved it, in the audit trail too. The hold's case gets
    the resolution in its history within a poll of the intake loop, and closes if nothing
    else waits on it."""
    hold = service.resolve_hold(db, who, hold_id, "release", body.note)
    return json_response(sc.hold_out(hold))


@router.post(
    "/holds/{hold_id}/reject",
    summary="Reject a held withdrawal",
    openapi_extra=_RESOLUTION_DOC,
)
def reject_hold(
    hold_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.HoldResolution = msgspec_body(sc.HoldResolution),
) -> Response:
    """Reject a ``held`` withdrawal (``hold:resolve``); ``{note}``, the note is required.
    The caller is recorded as who resolved it, in the audit trail too. The hold's case gets
    the resolution in its history within a poll of the intake loop, and closes if nothing
    else waits on it."""
    hold = service.resolve_hold(db, who, hold_id, "reject", body.note)
    return json_response(sc.hold_out(hold))


class ReplayOut(BaseModel):
    dead_letter_id: int
    source: str
    outcome: str  # ingested | duplicate (refused input), decided (a quarantined event)
    event_id: str | None
    seq: int | None
    decision: str | None = None


# 409: replayed already, or still refused (a conflict); 422: the input is still invalid;
# 503: the quarantined event still cannot be decided (it stays quarantined).
_REPLAY_ERRORS = errors(404, 409, 422, 503)


@router.post(
    "/dead-letters/{dead_letter_id}/replay", response_model=ReplayOut, responses=_REPLAY_ERRORS
)
async def replay_dead_letter(
    dead_letter_id: RowIdPath,
    request: Request,
    who: Principal = requires(Permission.DEAD_LETTER_REPLAY),
) -> dict[str, object]:
    """Replay a dead letter after a fix (``dead_letter:replay``), once.

    A quarantined event (source ``monitor``) is decided now by the monitor; refused input
    is validated again and ingested if it is valid now. The replay is recorded (audited)
    as who replayed it; if it still fails, nothing changes.
    """
    box = container(request)
    replay = box.component(MonitorRuntime).replay
    return await asyncio.to_thread(
        replay, dead_letter_id, who, max_event_bytes=box.settings.max_event_bytes
    )


def include(app: FastAPI) -> None:
    """Mount the monitor's routes, and the lane of ``POST /v1/decisions``, on the app."""
    app.include_router(router)
    app.add_middleware(DecisionLane)
