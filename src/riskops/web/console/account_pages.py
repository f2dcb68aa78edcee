"""The account page (account 360) and its timeline partial; restricting an account and
lifting a restriction (through ``accounts.service``, as the API: a full freeze or an
offboarding waits for a second person on the approvals page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from riskops.accounts import kyc
from riskops.accounts import service as accounts
from riskops.accounts.models import AccountAction, RestrictionKind
from riskops.auth.permissions import Permission
from riskops.http.deps import DbSession
from riskops.http.params import BeforeId, LongText, RowIdPath
from riskops.investigation import service as investigation
from riskops.investigation.schemas import TimelinePage
from riskops.investigation.timeline import TIMELINE_TYPES, timeline
from riskops.kernel.errors import ValidationFailed
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.search import known_account, no_account
from riskops.web.console.standing import standings
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

MONEY = ("deposit", "withdrawal.requested", "transfer.internal", "trade", "p2p.order")
ACCESS = ("login", "session", "security.change", "provider.signal")
IDENTITY = ("account.created", "kyc.submitted", "kyc.decided", "kyb.submitted", "kyb.decided")
TIMELINE_FILTERS: list[tuple[str, str]] = [
    ("", "All events"),
    (",".join((*MONEY, "card.chargeback")), "Money movement"),
    (",".join(ACCESS), "Access and security"),
    (",".join(IDENTITY), "Identity (account, KYC, KYB)"),
    *[(t, t) for t in TIMELINE_TYPES],
]


def parse_types(types: str | None) -> list[str] | None:
    """``"deposit,login"`` → ``["deposit", "login"]``; empty → every type."""
    chosen = [t.strip() for t in (types or "").split(",") if t.strip()]
    return chosen or None


def timeline_context(page: TimelinePage, account_id: str, types: str | None) -> dict[str, Any]:
    return {
        "page": page,
        "account_id": account_id,
        "selected_types": types or "",
        "timeline_filters": TIMELINE_FILTERS,
    }


@router.get("/accounts/{account_id}")
def account_page(
    request: Request, account_id: str, db: DbSession, user: PageUser, types: str | None = None
) -> Response:
    """The account 360: profile, rating with its reasons, restrictions (with lift), holds,
    cases, alerts, linked accounts (table and graph), screening hits, KYC reviews, the
    intelligence on its IPs, phones, emails and addresses, and the activity timeline; an id
    riskops does not know is a "no such account" page (404), not an empty account."""
    if not known_account(db, user.principal, account_id):
        return no_account(request, account_id, searched=False)
    summary = investigation.account_360(db, user.principal, account_id)
    page = timeline(db, user.principal, account_id, types=parse_types(types))
    linked = summary.links.accounts if summary.links is not None else []
    context = {
        "s": summary,
        "x": summary,
        "kyc_reviews": kyc.reviews_for_account(db, user.principal, account_id, limit=5),
        "linked_standing": standings(db, [a.account_id for a in linked]),
        "can_screen": user.principal.can(Permission.SCREENING_REVIEW),
        "can_lift": user.principal.can(Permission.ACCOUNT_RESTRICT),
        "can_restrict": user.principal.can(Permission.ACCOUNT_RESTRICT),
        "restriction_kinds": [(k, accounts.needs_second_person(k)) for k in RestrictionKind],
        **timeline_context(page, account_id, types),
    }
    return render(request, "account.html", context)


@router.get("/accounts/{account_id}/timeline")
def timeline_rows(
    request: Request,
    account_id: str,
    db: DbSession,
    user: PageUser,
    types: str | None = None,
    before: BeforeId = None,
) -> Response:
    """Rows of the timeline (htmx partial): a new filter, or the next page ("load more")."""
    page = timeline(db, user.principal, account_id, types=parse_types(types), before_seq=before)
    context = {**timeline_context(page, account_id, types), "appending": before is not None}
    return render(request, "_timeline_rows.html", context)


@router.post("/accounts/{account_id}/restrictions")
def restrict(
    request: Request,
    account_id: str,
    db: DbSession,
    user: PageUser,
    kind: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Restrict the account with a reason; a full freeze or an offboarding is asked for and
    waits for someone else's approval (four-eyes)."""
    if kind not in {k.value for k in RestrictionKind}:
        raise ValidationFailed(
            "choose a restriction", details=[{"field": "kind", "reason": "not a restriction"}]
        )
    done = accounts.restrict(db, user.principal, account_id, RestrictionKind(kind), reason)
    asked = isinstance(done, AccountAction)
    return see_other(f"/accounts/{account_id}?done={'asked' if asked else 'restricted'}", request)


@router.post("/accounts/{account_id}/restrictions/{restriction_id}/lift")
def lift_restriction(
    request: Request,
    account_id: str,
    restriction_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    reason: Annotated[LongText, Form()] = "",
) -> Response:
    """Lift an active restriction with a reason, then show the account again."""
    accounts.lift(db, user.principal, account_id, restriction_id, reason)
    return see_other(f"/accounts/{account_id}?done=lifted", request)
