"""HTTP API of case work: queues, shifts, cases, take-next, assignment, decisions, approvals.

Endpoints authenticate (``CurrentPrincipal``), parse, call one service function and return;
permissions are checked in the services. One request is one transaction (``DbSession``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.cases import decisions, lifecycle, service, settings
from riskops.cases import schemas as sc
from riskops.cases import shifts as shifts_service
from riskops.cases.models import CaseStatus
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import errors, json_body, rules
from riskops.http.params import Limit, Offset, RowIdPath

router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/queues", summary="Queue overview")
def queues(db: DbSession, who: CurrentPrincipal) -> Response:
    """Per queue: open and unassigned cases, the oldest open, SLA breaches, due within 15 min."""
    return json_response([sc.queue_out(q) for q in service.queue_overview(db, who)])


@router.patch(
    "/queues/{key}",
    summary="Change a queue's settings",
    openapi_extra=json_body(sc.QueueUpdateIn, "Name, description, SLA minutes, position."),
)
def update_queue(
    key: str,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.QueueUpdateIn = msgspec_body(sc.QueueUpdateIn),
) -> Response:
    """Needs queue:manage. A new SLA applies to cases that arrive after the change."""
    return json_response(sc.queue_settings_out(settings.update_queue(db, who, key, body)))


@router.get(
    "/shifts",
    summary="The shift calendar",
    openapi_extra=rules(("to", "after `from`")),
)
def shifts(
    db: DbSession,
    who: CurrentPrincipal,
    from_: Annotated[datetime, Query(alias="from")],
    to: datetime,
) -> Response:
    """Shifts overlapping [from, to) (at most 31 days), earliest first."""
    rows = settings.list_shifts(db, who, from_, to)
    return json_response([sc.shift_out(s) for s in rows])


@router.post(
    "/shifts",
    summary="Put someone on shift",
    status_code=201,
    responses=errors(404),
    openapi_extra={
        **json_body(sc.ShiftIn, "User, start, end, queues (empty: every queue)."),
        **rules(("$.ends_at", "after `starts_at`")),
    },
)
def add_shift(
    db: DbSession, who: CurrentPrincipal, body: sc.ShiftIn = msgspec_body(sc.ShiftIn)
) -> Response:
    """Needs queue:manage; analysts on shift get cases auto-assigned from their queues."""
    shift = shifts_service.add_shift(
        db, who, body.user_id, body.starts_at, body.ends_at, body.queue_keys
    )
    return json_response(sc.shift_out(shift), 201)


@router.delete("/shifts/{shift_id}", summary="Take a shift off the calendar", status_code=204)
def remove_shift(shift_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Needs queue:manage."""
    settings.remove_shift(db, who, shift_id)
    return Response(status_code=204)


@router.get("/queues/{key}/cases", summary="Cases of a queue")
def queue_cases(
    key: str,
    db: DbSession,
    who: CurrentPrincipal,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Open cases by default (``status`` filters), highest priority first, then earliest due."""
    rows = service.list_queue_cases(db, who, key, statuses=status, limit=limit, offset=offset)
    return json_response([sc.case_out(c) for c in rows])


@router.get(
    "/cases",
    summary="Search cases",
    openapi_extra=rules(("$", "`account_id` or `case_id` is given")),
)
def search(
    db: DbSession, who: CurrentPrincipal, account_id: str | None = None, mine: bool = False
) -> Response:
    """``mine=true``: the caller's open cases; else the cases of ``account_id``."""
    rows = (
        service.my_cases(db, who) if mine else service.search_cases(db, who, account_id=account_id)
    )
    return json_response([sc.case_out(c) for c in rows])


@router.get("/cases/{case_id}", summary="One case with its alerts, history, notes, actions")
def case_detail(case_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Everything about the case; the view is recorded in the audit trail."""
    return json_response(sc.detail_out(service.case_detail(db, who, case_id)))


@router.post(
    "/cases/take-next",
    summary="Take the next case",
    openapi_extra=json_body(sc.TakeNextIn, "Optional queue keys (default: your shift's)."),
    responses={204: {"description": "Nothing to take: every queue asked for is clear."}},
)
def take_next(
    db: DbSession, who: CurrentPrincipal, body: sc.TakeNextIn = msgspec_body(sc.TakeNextIn)
) -> Response:
    """Assign yourself the highest-priority, earliest-due unassigned case; 204 if none."""
    case = service.take_next(db, who, body.queue_keys)
    return Response(status_code=204) if case is None else json_response(sc.case_out(case))


@router.post(
    "/cases/{case_id}/assign",
    summary="Assign or unassign a case",
    openapi_extra=json_body(sc.AssignIn, "``user_id`` (null: back to the queue)."),
)
def assign(
    case_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.AssignIn = msgspec_body(sc.AssignIn),
) -> Response:
    """Self-assignment needs case:work; assigning someone else needs case:assign."""
    if body.user_id is None:
        return json_response(sc.case_out(service.unassign(db, who, case_id)))
    return json_response(sc.case_out(service.assign(db, who, case_id, body.user_id)))


@router.post(
    "/cases/{case_id}/decisions",
    summary="Decide a case",
    status_code=201,
    openapi_extra=json_body(sc.DecisionIn, "The action, its parameters and the note."),
)
def decide(
    case_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.DecisionIn = msgspec_body(sc.DecisionIn),
) -> Response:
    """Note (five sections, all required) and action; four-eyes actions wait for approval."""
    return json_response(sc.decision_out(decisions.decide(db, who, case_id, body)), 201)


@router.post(
    "/cases/{case_id}/reopen",
    summary="Reopen a closed case",
    openapi_extra={
        **json_body(sc.ReasonIn, "Why the case is reopened."),
        **rules(("$.reason", "says why: required, not blank")),
    },
)
def reopen(
    case_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.ReasonIn = msgspec_body(sc.ReasonIn),
) -> Response:
    """Needs case:reopen; the case goes back to review."""
    return json_response(sc.case_out(lifecycle.reopen(db, who, case_id, body.reason)))


@router.get("/approvals", summary="Actions waiting for approval")
def approvals(db: DbSession, who: CurrentPrincipal, limit: Limit = 100) -> Response:
    """Four-eyes actions (full freeze, offboarding, SAR referral) pending, oldest first."""
    return json_response([sc.action_out(a) for a in decisions.list_approvals(db, who, limit=limit)])


@router.post(
    "/actions/{action_id}/approve",
    summary="Approve a pending action",
    openapi_extra=json_body(sc.CommentIn, "An optional comment."),
)
def approve(
    action_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.CommentIn = msgspec_body(sc.CommentIn),
) -> Response:
    """Needs case:approve, and someone other than the maker; runs the action, closes the case."""
    return json_response(sc.decision_out(decisions.approve(db, who, action_id, body.comment)))


@router.post(
    "/actions/{action_id}/refuse",
    summary="Refuse a pending action",
    openapi_extra=json_body(sc.CommentIn, "Why (required)."),
)
def refuse(
    action_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.CommentIn = msgspec_body(sc.CommentIn),
) -> Response:
    """Needs case:approve; the case goes back to review, nothing happens to the account."""
    return json_response(sc.decision_out(decisions.refuse(db, who, action_id, body.comment)))


@router.post(
    "/notes/{note_id}/amendments",
    summary="Amend a note",
    status_code=201,
    openapi_extra=json_body(sc.TextIn, "The amendment's text."),
)
def amend(
    note_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.TextIn = msgspec_body(sc.TextIn),
) -> Response:
    """Notes are never edited: the text is appended as an amendment."""
    amendment = lifecycle.amend_note(db, who, note_id, body.text)
    return json_response(sc.amendment_out(amendment), 201)


def include(app: FastAPI) -> None:
    """Mount the case work routes on the app."""
    app.include_router(router)
