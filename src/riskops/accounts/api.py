"""HTTP API of account controls: restrictions, and account actions waiting for approval.

Endpoints authenticate, parse, call one ``accounts.service`` function and return; the
permission, the four-eyes policy, maker and approver and the audit entry are the
service's (ADR 0018). An action the policy gives to two people (a full freeze, an
offboarding) answers ``202 Accepted`` with the pending approval; a second person approves
or refuses it under ``/v1/account-actions``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from riskops.accounts import schemas as sc
from riskops.accounts import service
from riskops.accounts.models import AccountAction, AccountActionStatus
from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import ACCOUNT_ID_RULE, json_body, rules, schema_of
from riskops.http.params import Limit, Offset, RowIdPath
from riskops.kernel.clock import utcnow

router = APIRouter(prefix="/v1", tags=["accounts"])


def _answers(**codes: tuple[str, Any]) -> dict[str, Any]:
    """``responses`` of ``openapi_extra``: ``{"201": (description, msgspec type), ...}``."""
    return {
        status.lstrip("_"): {
            "description": text,
            "content": {"application/json": {"schema": schema_of(kind)}},
        }
        for status, (text, kind) in codes.items()
    }


_RESTRICT_DOC = {
    **json_body(sc.RestrictionRequest, "`{kind, reason, expires_at?}`."),
    **rules(
        ("$.expires_at", "in the future, with a UTC offset"),
        ("$.reason", "not blank"),
        ACCOUNT_ID_RULE,
    ),
    "responses": _answers(
        _201=("The restriction, in force now.", sc.RestrictionOut),
        _202=("A full freeze or an offboarding, waiting for a second person.", sc.AccountActionOut),
    ),
}


@router.post(
    "/accounts/{account_id}/restrictions",
    summary="Restrict an account (a full freeze or an offboarding waits for approval)",
    status_code=201,
    openapi_extra=_RESTRICT_DOC,
)
def restrict(
    account_id: str,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.RestrictionRequest = msgspec_body(sc.RestrictionRequest),
) -> Response:
    """Needs ``account:restrict``. A restriction one person may impose blocks the account's
    next matching event: ``201`` with it, the caller recorded as who restricted it. A full
    freeze (``full_freeze``) or an offboarding (``account_closed``) needs a second person:
    ``202`` with the pending approval (``id, kind, maker, status``) and a ``Location``;
    nothing happens to the account until someone else approves it."""
    done = service.restrict(db, who, account_id, body.kind, body.reason, expires_at=body.expires_at)
    if isinstance(done, AccountAction):
        headers = {"Location": f"/v1/account-actions/{done.id}"}
        response = json_response(sc.action_out(done), 202)
        response.headers.update(headers)
        return response
    return json_response(sc.restriction_out(done, utcnow()), 201)


@router.get("/accounts/{account_id}/restrictions", summary="Restrictions of an account")
def list_restrictions(
    account_id: str, db: DbSession, who: CurrentPrincipal, active: bool = False
) -> Response:
    """Every restriction of the account (``active=true``: only those in force); needs
    ``account:view``."""
    found = service.restrictions(db, who, account_id, active_only=active)
    now = utcnow()
    return json_response([sc.restriction_out(r, now) for r in found])


@router.post(
    "/accounts/{account_id}/restrictions/{restriction_id}/lift",
    summary="Lift a restriction",
    openapi_extra={
        **json_body(sc.LiftRequest, "`{reason}`: why it is lifted (required)."),
        **rules(("$.reason", "says why: required, not blank")),
    },
)
def lift(
    account_id: str,
    restriction_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.LiftRequest = msgspec_body(sc.LiftRequest),
) -> Response:
    """Lift an active restriction, saying why (``account:restrict``; who and when are
    recorded, the reason is audited)."""
    lifted = service.lift(db, who, account_id, restriction_id, body.reason)
    return json_response(sc.restriction_out(lifted, utcnow()))


@router.get("/account-actions", summary="Account actions (four-eyes), oldest first")
def list_actions(
    db: DbSession,
    who: CurrentPrincipal,
    status: AccountActionStatus | None = AccountActionStatus.PENDING_APPROVAL,
    account_id: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Full freezes and offboardings asked for outside a case (``status=pending_approval``
    by default); needs ``account:view``."""
    found = service.account_actions(
        db, who, status=status, account_id=account_id, limit=limit, offset=offset
    )
    return json_response([sc.action_out(a) for a in found])


@router.get("/account-actions/{action_id}", summary="One account action")
def get_action(action_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The action and its decision; needs ``account:view``."""
    return json_response(sc.action_out(service.account_action(db, who, action_id)))


@router.post(
    "/account-actions/{action_id}/approve",
    summary="Approve a pending account action",
    openapi_extra=json_body(sc.CommentIn, "An optional comment."),
)
def approve(
    action_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.CommentIn = msgspec_body(sc.CommentIn),
) -> Response:
    """Needs ``case:approve``, and someone other than the maker: the restriction is imposed
    now, recording maker and approver."""
    return json_response(sc.action_out(service.approve(db, who, action_id, body.comment)))


@router.post(
    "/account-actions/{action_id}/refuse",
    summary="Refuse a pending account action",
    openapi_extra=json_body(sc.CommentIn, "Why (required)."),
)
def refuse(
    action_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.CommentIn = msgspec_body(sc.CommentIn),
) -> Response:
    """Needs ``case:approve``, and someone other than the maker; nothing happens to the
    account."""
    return json_response(sc.action_out(service.refuse(db, who, action_id, body.comment)))


def include(app: FastAPI) -> None:
    """Mount the account control routes on the app."""
    app.include_router(router)
