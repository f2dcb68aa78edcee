"""Who else used this value (an IP, a device, a phone, an email, a crypto address...), and
the link graph of an account for the account page's graph (cytoscape.js elements).

Every IP, device, phone, email and address the account and case pages show links here
(``/links?kind=ip&value=203.0.113.7``): the accounts that used the value, when each first
and last used it, the hub marker and count, each account's standing (restricted,
offboarded, SAR, rating band), a page at a time; next to the value, what the shipped data
says of it (``riskops.intel``) with its sources and the outside websites to look it up on.
A value that is not of its kind, too long or empty is a clear page (422), never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from riskops.auth.permissions import Permission, Principal, require
from riskops.http.bodies import json_response
from riskops.http.deps import DbSession
from riskops.intel import detect
from riskops.intel import service as intel
from riskops.kernel.errors import ValidationFailed
from riskops.links import normalise as link_values
from riskops.links import repository as links_repo
from riskops.links import service as links
from riskops.links.policy import Kind
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.standing import standings
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Hops = Annotated[int, Query(ge=1, le=links.MAX_HOPS, description="1 or 2 links away")]

MAX_VALUE = 256  # the longest value the graph keeps (``links.normalise``)
PAGE = 50
# The link kinds intel can describe, and the kind ``intel.describe`` is told.
INTEL_KIND = {
    Kind.IP: "ip",
    Kind.PHONE: "phone",
    Kind.EMAIL: "email",
    Kind.DEPOSIT_ADDRESS: "address",
    Kind.WITHDRAWAL_ADDRESS: "address",
}
KIND_NAMES = {
    Kind.IP: "IP address",
    Kind.IP_NET: "IP network (/24, v6 /64)",
    Kind.PHONE: "phone number",
    Kind.EMAIL: "email address",
    Kind.DEVICE: "device",
    Kind.CARD: "card fingerprint",
    Kind.BANK: "bank account fingerprint",
    Kind.DEPOSIT_ADDRESS: "deposit source address",
    Kind.WITHDRAWAL_ADDRESS: "withdrawal destination address",
    Kind.REFERRAL_CODE: "referral code",
    Kind.TRANSFER: "internal transfer counterparty",
    Kind.P2P: "P2P counterparty",
    Kind.REFERRAL: "referral",
}
PIVOT_KINDS = [k for k in Kind if k not in (Kind.TRANSFER, Kind.P2P, Kind.REFERRAL)]
# An address used as a deposit source may be another account's withdrawal destination.
OTHER_ADDRESS_KIND = {
    Kind.DEPOSIT_ADDRESS: Kind.WITHDRAWAL_ADDRESS,
    Kind.WITHDRAWAL_ADDRESS: Kind.DEPOSIT_ADDRESS,
}
TOKEN_KINDS = (Kind.DEVICE, Kind.CARD, Kind.BANK, Kind.REFERRAL_CODE)


def candidate_kinds(value: str) -> list[Kind]:
    """The link kinds a typed value may be, most likely first: an IP, a network, an email,
    a crypto address (deposit source or withdrawal destination), a phone number; anything
    else may be a device, card or bank fingerprint or a referral code."""
    text = value.strip()
    if not text or len(text) > MAX_VALUE:
        return []
    if "/" in text and link_values.ip(text.split("/", 1)[0]) is not None:
        return [Kind.IP_NET]
    found, _ = detect.detect(text)
    if found == detect.IP:
        return [Kind.IP]
    if found == detect.EMAIL:
        return [Kind.EMAIL]
    if found == detect.ADDRESS:
        return [Kind.DEPOSIT_ADDRESS, Kind.WITHDRAWAL_ADDRESS]
    if found == detect.PHONE:
        return [Kind.PHONE]
    digits = sum(c.isdigit() for c in text)
    kinds: list[Kind] = []
    if digits >= 7 and all(c.isdigit() or c in " +-().\u00a0" for c in text):
        kinds.append(Kind.PHONE)
    return [*kinds, *TOKEN_KINDS]


def used_kind(session: Session, reader: Principal, value: str) -> tuple[Kind, str, int] | None:
    """The first kind ``value`` may be that some account used: (kind, stored value, how
    many accounts); None when nobody used it as any kind."""
    require(reader, Permission.ACCOUNT_VIEW)
    for kind in candidate_kinds(value):
        try:
            k, canonical = links.normalise(kind.value, value)
        except ValidationFailed:
            continue
        info = links_repo.value_info(session, k.value, canonical)
        if info is not None and info[0] > 0:
            return k, canonical, info[0]
    return None


def _problem_page(
    request: Request, kind: str, value: str, message: str, status_code: int = 422
) -> Response:
    shown = value if len(value) <= 120 else value[:120] + "…"
    context = {
        "problem": message,
        "kind": kind,
        "value": shown,
        "value_length": len(value),
        "kinds": [(k.value, KIND_NAMES[k]) for k in PIVOT_KINDS],
        "w": None,
    }
    return render(request, "links.html", context, status_code=status_code)


@router.get("/links")
def who_else_page(
    request: Request,
    db: DbSession,
    user: PageUser,
    kind: str = "",
    value: str = "",
    after: str | None = None,
) -> Response:
    """The accounts that used a value, a page at a time, each with its standing; the
    value's intelligence and outside websites. Without ``kind``, the kind is read from the
    value (the first kind someone used it as)."""
    principal = user.principal
    require(principal, Permission.ACCOUNT_VIEW)
    value = value.strip()
    kind = kind.strip()
    if not value:
        return _problem_page(request, kind, value, "Type a value to see who else used it.", 200)
    if len(value) > MAX_VALUE:
        return _problem_page(
            request,
            kind,
            value,
            f"That value is {len(value):,} characters long: riskops keeps values of at most "
            f"{MAX_VALUE} characters, so no account used it.",
        )
    if not kind:
        found = used_kind(db, principal, value)
        guesses = candidate_kinds(value)
        kind = found[0].value if found else (guesses[0].value if guesses else Kind.DEVICE.value)
    if after is not None and (len(after) > 128 or not after.strip()):
        after = None
    try:
        page = links.who_else(db, principal, kind, value, limit=PAGE, cursor=after)
    except ValidationFailed as exc:
        return _problem_page(request, kind, value, f"{exc.message}: {value[:120]!r}.")
    k = Kind(page.kind)
    found_intel: dict[str, Any] | None = None
    if k in INTEL_KIND:
        found_intel = intel.describe(page.value, kind=INTEL_KIND[k])
    other = OTHER_ADDRESS_KIND.get(k)
    other_use = None
    if other is not None:
        info = links_repo.value_info(db, other.value, page.value)
        if info is not None and info[0] > 0:
            other_use = (other.value, KIND_NAMES[other], info[0])
    context = {
        "other_use": other_use,
        "w": page,
        "kind": page.kind,
        "kind_name": KIND_NAMES[k],
        "value": page.value,
        "typed": value,
        "intel": found_intel,
        "standing": standings(db, [u.account_id for u in page.items]),
        "network": link_values.ip_net(page.value) if k is Kind.IP else None,
        "after": after,
        "kinds": [(k.value, KIND_NAMES[k]) for k in PIVOT_KINDS],
        "problem": None,
    }
    return render(request, "links.html", context)


@router.get("/accounts/{account_id}/graph.json")
def graph_json(account_id: str, db: DbSession, user: PageUser, hops: Hops = 1) -> Response:
    """The account's link graph (one or two hops) as cytoscape.js elements, for
    ``static/graph.js``; each node an account or a shared value. Needs ``account:view``."""
    if len(account_id) > MAX_VALUE:
        raise ValidationFailed(
            "not an account id", details=[{"field": "account_id", "reason": "too long"}]
        )
    return json_response(links.graph(db, user.principal, account_id, hops=hops, limit=100))
