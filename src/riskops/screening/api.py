"""HTTP API of screening: an account's hits, the review queue, a decision, the list versions.

Endpoints authenticate, parse, call one ``screening.service`` function and return; the
permission, the audit entry and the state rules are the service's. Reading hits shows
personal data and is audited per account (ADR 0020).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import ACCOUNT_ID_RULE, errors, json_body, rules
from riskops.http.params import Limit, Offset, RowIdPath
from riskops.screening import schemas as sc
from riskops.screening import service
from riskops.screening.models import HitStatus

router = APIRouter(prefix="/v1", tags=["screening"])


@router.get(
    "/accounts/{account_id}/screening-hits",
    summary="Screening hits of an account, newest first",
    responses=errors(422),
    openapi_extra=rules(ACCOUNT_ID_RULE),
)
def account_hits(
    account_id: str,
    db: DbSession,
    who: CurrentPrincipal,
    status: HitStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Every hit of the account's KYC, KYB, beneficial owners and P2P counterparties
    (``status``: only open, confirmed or not_a_match ones), each with the list entry, the
    name that matched, the score and the reasons; needs ``account:view``; audited."""
    found = service.hits_for_account(db, who, account_id, status=status, limit=limit, offset=offset)
    return json_response([sc.hit_out(h) for h in found])


@router.get("/screening/hits", summary="The screening review queue, newest first")
def queue(
    db: DbSession,
    who: CurrentPrincipal,
    status: HitStatus | None = HitStatus.OPEN,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Hits of every account, open ones by default; needs ``screening:review``; audited per
    account shown."""
    found = service.review_queue(db, who, status=status, limit=limit, offset=offset)
    return json_response([sc.hit_out(h) for h in found])


@router.get("/screening/hits/{hit_id}", summary="One screening hit")
def get_hit(hit_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The hit, its list entry and its decision if any; needs ``account:view``; audited."""
    return json_response(sc.hit_out(service.get_hit(db, who, hit_id)))


@router.post(
    "/screening/hits/{hit_id}/review",
    summary="Decide a screening hit: match or not a match",
    responses=errors(409),
    openapi_extra={
        **json_body(sc.ReviewIn, "`{decision: match | not_a_match, note}`."),
        **rules(("$.note", "says why: required, not blank")),
    },
)
def review(
    hit_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.ReviewIn = msgspec_body(sc.ReviewIn),
) -> Response:
    """Needs ``screening:review``. ``match``: the subject is the listed party;
    ``not_a_match``: a different party, remembered, so no rescreen on any later list version
    raises the same hit again. A decided hit is final (409). Audited."""
    decided = service.review(db, who, hit_id, body.decision, body.note)
    return json_response(sc.hit_out(decided))


@router.get("/screening/lists", summary="Versions of the loaded lists, newest first")
def list_versions(
    db: DbSession,
    who: CurrentPrincipal,
    list_name: Annotated[str | None, Query(max_length=64, description="one list")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Each version's list, number, source, files (name, SHA-256, size), entry count, who
    loaded it and when, and whether it is current; needs ``case:view``."""
    found = service.list_versions(db, who, list_name=list_name, limit=limit, offset=offset)
    return json_response([sc.version_out(v, current) for v, current in found])


def include(app: FastAPI) -> None:
    """Mount the screening routes on the app."""
    app.include_router(router)
