"""HTTP API of the account 360: ``GET /v1/accounts/{account_id}``.

The route authenticates, calls ``investigation.service.account_360`` (which checks
``account:view``, gathers each domain's part and writes the audit entries) and renders it.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response
from riskops.http.deps import DbSession
from riskops.http.openapi import ACCOUNT_ID_RULE, errors, rules, schema_of
from riskops.investigation import service
from riskops.investigation.schemas import Account360

router = APIRouter(prefix="/v1", tags=["accounts"])

_DOC = {
    **rules(ACCOUNT_ID_RULE),
    "responses": {
        "200": {
            "description": "The account 360.",
            "content": {"application/json": {"schema": schema_of(Account360)}},
        },
        **errors(404, 422),
    },
}


@router.get(
    "/accounts/{account_id}",
    summary="The account 360: profile, rating, restrictions, links, screening, intel",
    openapi_extra=_DOC,
)
def account_360(account_id: str, db: DbSession, who: CurrentPrincipal) -> Response:
    """Everything an analyst sees about one account: the profile (from its events and the
    facts the rating keeps), the rating with its reasons, active restrictions, 30-day
    deposits and withdrawals, holds, cases and recent alerts, the accounts linked to it one
    hop away (each with its restrictions and band, hubs apart), its screening hits, and the
    intelligence on the IPs, phones, emails and crypto addresses it used, each naming its
    data source. Needs ``account:view``; audited as a view of the account (and of the
    linked accounts and hits it shows). An account riskops does not know is a 404."""
    return json_response(service.account_360(db, who, account_id))


def include(app: FastAPI) -> None:
    """Mount the account 360 route on the app."""
    app.include_router(router)
