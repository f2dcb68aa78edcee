"""Console search: a case number opens that case, an account id riskops knows opens that
account, a value some account used (an IP, a phone, an email, a crypto address, a device)
opens "who else used this", a name (a KYC holder's, a KYB legal name, a beneficial owner's)
lists the accounts that carry it; anything else (a value nobody used, a typo) is said to be
no account, with what was searched and what the box takes: never an empty page for an
account that does not exist. The account page answers an unknown id the same way (404)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from riskops.accounts import kyc, risk_repository
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.cases import service as cases
from riskops.http.deps import DbSession
from riskops.investigation import service as investigation
from riskops.kernel.bounds import MAX_DB_INT, identifier_problem
from riskops.screening.service import owner_ref
from riskops.web.console.links_pages import used_kind
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.standing import standings
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

ACCEPTS = (
    "an account id, as the exchange sends it, a case number (123 or #123), an IP, phone, "
    "email, crypto address or device some account used, or a name (KYC, KYB, owner)"
)
MAX_NAME = 256  # a stored name is at most this long
MAX_CASE_ID = MAX_DB_INT  # a larger number is no case (and no database integer)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[\d\s().-]{7,}")


def looks_like(query: str) -> str | None:
    """What a query that found nothing looks like ("an IP address", "a phone number",
    "an email address"), to say why search found nothing; None for anything else."""
    try:
        ipaddress.ip_address(query)
    except ValueError:
        pass
    else:
        return "an IP address"
    if _EMAIL.fullmatch(query):
        return "an email address"
    if _PHONE.fullmatch(query) and sum(c.isdigit() for c in query) >= 7:
        return "a phone number"
    return None


def case_number(query: str) -> int | None:
    """``123`` or ``#123`` as a case id a database can hold, else None."""
    digits = query.removeprefix("#")
    if not digits.isascii() or not digits.isdigit():
        return None
    number = int(digits)
    return number if 0 < number <= MAX_CASE_ID else None


def known_account(session: Session, principal: Principal, account_id: str) -> bool:
    """Whether ``account_id`` names an account riskops knows. A value the identifier
    bounds refuse (too long, blank, invisible characters) names none: no event carrying it
    was ever accepted, so it is not looked up."""
    if identifier_problem(account_id) is not None:
        return False
    return investigation.account_exists(session, principal, account_id)


def no_account(request: Request, query: str, *, searched: bool) -> Response:
    """The "no account" page (404): what was searched or typed, what it looks like, what
    the search box takes, and a search box to try again."""
    context = {
        "query": query,
        "searched": searched,
        "number_tried": case_number(query) is not None,
        "looks_like": looks_like(query),
        "accepts": ACCEPTS,
    }
    return render(request, "no_account.html", context, status_code=404)


@router.get("/search")
def search(request: Request, user: PageUser, db: DbSession, q: str = "") -> Response:
    """``123`` or ``#123``: that case if it exists; an account id riskops knows: that
    account; a value some account used: who else used it; a name: the accounts named so;
    anything else: the "no account" page."""
    q = q.strip()
    if not q:
        return see_other("/")
    number = case_number(q)
    if number is not None and (found := cases.search_cases(db, user.principal, case_id=number)):
        return see_other(f"/cases/{found[0].id}")
    if known_account(db, user.principal, q):
        return see_other(f"/accounts/{quote(q, safe='')}")
    used = used_kind(db, user.principal, q)
    if used is not None:
        kind, value, _ = used
        return see_other(f"/links?kind={kind.value}&value={quote(value, safe='')}")
    named = accounts_named(db, user.principal, q)
    if named:
        context = {"query": q, "named": named, "standing": standings(db, [a for a, _ in named])}
        return render(request, "search_results.html", context)
    return no_account(request, q, searched=True)


def accounts_named(session: Session, principal: Principal, name: str) -> list[tuple[str, str]]:
    """(account, how it names ``name``) for the accounts whose KYC holder or KYB legal name
    is ``name`` (case and word order aside), or that name it as a beneficial owner; the
    accounts shown are recorded in the audit trail (``account.search``)."""
    require(principal, Permission.ACCOUNT_VIEW)
    key = kyc.name_key(name)
    if key is None or len(name) > MAX_NAME or sum(c.isalpha() for c in name) < 2:
        return []
    found: dict[str, str] = {}
    for account in risk_repository.accounts_named(session, key, limit=50):
        found.setdefault(account, "KYC holder or KYB legal name")
    for account in risk_repository.owner_accounts(session, owner_ref(name), limit=50):
        found.setdefault(account, "beneficial owner")
    if found:
        shown = {a: [name[:64]] for a in found}
        audit.record_views(session, principal, "account.search", "account", shown)
    return sorted(found.items())
