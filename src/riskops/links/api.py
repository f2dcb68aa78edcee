"""HTTP API of linked accounts: who else used a value, the accounts linked to one, and the
graph of them (cytoscape.js JSON).

Each route parses and bounds its parameters, calls one ``links.service`` function (which
checks ``account:view`` and records the accounts shown in the audit trail) and renders it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response
from riskops.http.deps import DbSession
from riskops.http.openapi import URL_TEXT, rules, schema_of
from riskops.links import service
from riskops.links.policy import Kind
from riskops.links.schemas import Graph, Linked, WhoElse

router = APIRouter(prefix="/v1", tags=["links"])

AccountPath = Annotated[
    str, Path(min_length=1, max_length=128, pattern=URL_TEXT, description="an account id")
]
Hops = Annotated[int, Query(ge=1, le=service.MAX_HOPS, description="1 or 2 links away")]
LinkedLimit = Annotated[
    int, Query(ge=1, le=service.MAX_LIMIT, description="at most this many accounts")
]


def _answer(kind: Any, text: str) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": text,
                "content": {"application/json": {"schema": schema_of(kind)}},
            }
        }
    }


@router.get(
    "/accounts/{account_id}/links",
    summary="Accounts linked to an account (shared device, phone, email, IP, card, address...)",
    openapi_extra=_answer(Linked, "The linked accounts, nearest first, each with what links it."),
)
def linked(
    account_id: AccountPath,
    db: DbSession,
    who: CurrentPrincipal,
    hops: Hops = 1,
    limit: LinkedLimit = 100,
) -> Response:
    """Needs ``account:view``. The accounts within ``hops`` links of this one, over values
    that are not hubs, each with the values it shares (``kind``, ``value``, since when) and,
    two hops away, the account it is reached through (``via``). The account's hub values
    (shared by too many accounts to mean anything) come apart in ``hubs``; ``truncated``
    says more accounts were linked than ``limit``. Each account shown is audited."""
    return json_response(service.linked(db, who, account_id, hops=hops, limit=limit))


@router.get(
    "/links",
    summary="Who else used a value (phone, email, IP or /24, device, card, address...)",
    openapi_extra={
        **_answer(WhoElse, "A page of the accounts that used the value."),
        **rules(
            ("value", "a value of its kind: an IP address for ip, a phone number for phone...")
        ),
    },
)
def who_else(
    db: DbSession,
    who: CurrentPrincipal,
    kind: Annotated[Kind, Query(description="the kind of value")],
    value: Annotated[
        str,
        Query(
            min_length=1,
            max_length=256,
            pattern=URL_TEXT,
            description="the value as typed: it is normalised (an email's case, dots and "
            "+tag, a phone's spaces, an IP's form; for ip_net an address or a network)",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE, description="rows in a page")] = 50,
    after: Annotated[
        str | None,
        Query(max_length=128, pattern=URL_TEXT, description="the previous page's next_cursor"),
    ] = None,
) -> Response:
    """Needs ``account:view``. The accounts that used the value, in account order, with when
    each first and last used it; ``accounts`` counts them all and ``hub`` marks a value too
    many accounts share to link them. A value that is not of its kind is a 422."""
    return json_response(service.who_else(db, who, kind.value, value, limit=limit, cursor=after))


@router.get(
    "/accounts/{account_id}/graph",
    summary="The link graph of an account (cytoscape.js elements)",
    openapi_extra=_answer(Graph, "`{nodes, edges, truncated}`, each element `{data: {...}}`."),
)
def graph(
    account_id: AccountPath,
    db: DbSession,
    who: CurrentPrincipal,
    hops: Hops = 1,
    limit: LinkedLimit = 100,
) -> Response:
    """Needs ``account:view``. Nodes for the account, its linked accounts (``acct:{id}``,
    with ``hop`` and ``cluster_id``) and the values between them (``val:{kind}:{value}``,
    with ``hub`` and ``accounts``); edges from an account to a value it used, or account to
    account for a transfer, P2P trade or referral. Load it into cytoscape.js as it is."""
    return json_response(service.graph(db, who, account_id, hops=hops, limit=limit))


def include(app: FastAPI) -> None:
    """Mount the linked-accounts routes on the app."""
    app.include_router(router)
