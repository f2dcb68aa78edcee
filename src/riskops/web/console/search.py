"""Console search: a case number opens that case, an account id riskops knows opens that
account, and anything else (an IP, a phone, an email, a typo) is said to be no account,
with what was searched and what the box takes: never an empty page for an account that
does not exist. The account page answers an unknown id the same way (404)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from riskops.auth.permissions import Principal
from riskops.cases import service as cases
from riskops.http.deps import DbSession
from riskops.investigation import service as investigation
from riskops.kernel.bounds import MAX_DB_INT, identifier_problem
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

ACCEPTS = "an account id, as the exchange sends it, or a case number (123 or #123)"
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
    account; anything else: the "no account" page."""
    q = q.strip()
    if not q:
        return see_other("/")
    number = case_number(q)
    if number is not None and (found := cases.search_cases(db, user.principal, case_id=number)):
        return see_other(f"/cases/{found[0].id}")
    if known_account(db, user.principal, q):
        return see_other(f"/accounts/{quote(q, safe='')}")
    return no_account(request, q, searched=True)
