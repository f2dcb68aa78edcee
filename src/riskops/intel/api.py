"""HTTP API of ``intel``: ``GET /v1/intel?value=...``, what shipped data says of one value.

The same answer as ``riskops intel lookup VALUE --json`` (``service.describe``): the kind
detected, the fields the data fills, its sources with their dates, outside links. Reading
it needs ``account:view`` (the analysts' look-up); it touches no account, so it writes no
audit entry.
"""

from __future__ import annotations

import enum
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from riskops.auth.http import requires
from riskops.auth.permissions import Permission, Principal
from riskops.http.bodies import json_response
from riskops.http.openapi import URL_TEXT, schema_of
from riskops.intel import detect
from riskops.intel.schemas import Intel
from riskops.intel.service import default_service

router = APIRouter(prefix="/v1", tags=["intel"])


class IntelKind(enum.StrEnum):
    """The kinds ``detect`` knows (a test holds the two lists together)."""

    IP = "ip"
    TX_HASH = "tx_hash"
    ADDRESS = "address"
    EMAIL = "email"
    PHONE = "phone"
    DOMAIN = "domain"


class IntelChain(enum.StrEnum):
    """The chains ``addresses`` knows (a test holds the two lists together)."""

    BITCOIN = "bitcoin"
    BITCOIN_TESTNET = "bitcoin-testnet"
    ETHEREUM = "ethereum"
    TRON = "tron"
    SOLANA = "solana"


_LOOKUP_DOC = {
    "responses": {
        "200": {
            "description": "The answer, `kind` first (`unknown` with a `reason` when the "
            "value is none of the kinds).",
            "content": {"application/json": {"schema": schema_of(Intel)}},
        }
    }
}


@router.get(
    "/intel",
    summary="Intelligence on an IP, phone, email, crypto address, domain or tx id",
    openapi_extra=_LOOKUP_DOC,
)
def lookup(
    value: Annotated[
        str,
        Query(
            min_length=1,
            max_length=detect.MAX_VALUE_CHARS,
            pattern=URL_TEXT,
            description="the value; its kind is detected unless `kind` says it",
        ),
    ],
    kind: Annotated[IntelKind | None, Query(description="skip detection")] = None,
    chain: Annotated[
        IntelChain | None, Query(description="the chain of a tx id several chains share")
    ] = None,
    _who: Principal = requires(Permission.ACCOUNT_VIEW),
) -> Response:
    """Needs ``account:view``. Detects what ``value`` is and answers from data installed
    with riskops (nothing is fetched): IP country, city, network owner and hosting / VPN /
    Tor ranges; phone country, line type and carrier; disposable and free-mail domains; an
    address's chain, validity and listings; links to outside websites. ``sources`` names
    each data set with its version and date; ``notes`` says why a field has no data."""
    answer = default_service().describe(
        value,
        kind=kind.value if kind is not None else None,
        chain=chain.value if chain is not None else None,
    )
    return json_response(answer)


def include(app: FastAPI) -> None:
    """Mount the intel routes on the app."""
    app.include_router(router)
