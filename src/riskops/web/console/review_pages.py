"""Screening and KYC / KYB review on the case page.

A screening hit and a KYC or KYB submission each become a case (the "screening" and "kyc"
queues) the way every alert does, so the analyst reviews them on the case page, with the
account 360 and the decision form on the same screen: the case shows each hit its alerts
name (subject, list entry, names, score, reasons; "match" / "not a match" with a note) and
each review its alerts come from (what the submission carried, the consistency findings,
the beneficial owners with their screening hits and linked accounts; approve / reject /
ask for more information with a note). These routes take those decisions and go back to
the case: a KYC decision closes the case (or moves it to waiting for the customer) with
its note (``cases.review_outcomes``); a hit's decision leaves the case to the decision form,
whose outcome decides the hits still open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from riskops.accounts import kyc, rating, risk_repository
from riskops.accounts.models import KycReview
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal
from riskops.cases import review_outcomes
from riskops.cases.models import AlertSource, CaseAlert
from riskops.http.deps import DbSession
from riskops.http.params import LongText, RowIdPath
from riskops.screening import service as screening
from riskops.screening.models import Hit
from riskops.screening.service import owner_ref
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

SCREENING_DECISIONS = [("not_a_match", "Not a match"), ("match", "Match (the listed party)")]
KYC_DECISIONS = [
    ("approve", "Approve"),
    ("reject", "Reject"),
    ("more_info", "Request information from the customer"),
]
KYC_TYPOLOGIES = ("kyc_review", "kyb_review")


@dataclass(frozen=True, slots=True)
class Owner:
    """A beneficial owner of a KYB review, with its screening hits on this account."""

    name: str
    ownership_pct: Any
    date_of_birth: str | None
    nationality: str | None
    hits: list[Hit]
    accounts: list[str]  # other accounts that name this person (holder or owner)


@dataclass(frozen=True, slots=True)
class ReviewView:
    review: KycReview
    findings: list[dict[str, Any]]
    owners: list[Owner]


def hit_ids_of(alerts: Iterable[CaseAlert]) -> list[int]:
    """The screening hits a case's alerts name (``detail["hit_id"]``)."""
    ids = []
    for alert in alerts:
        if alert.source == AlertSource.SCREENING:
            hit_id = (alert.detail or {}).get("hit_id")
            if isinstance(hit_id, int) and not isinstance(hit_id, bool):
                ids.append(hit_id)
    return list(dict.fromkeys(ids))


def review_events_of(alerts: Iterable[CaseAlert]) -> set[str]:
    """The submissions (event ids) of the KYC / KYB review alerts of a case."""
    return {
        str((a.detail or {}).get("event_id"))
        for a in alerts
        if a.typology in KYC_TYPOLOGIES and (a.detail or {}).get("event_id")
    }


def case_reviews(
    session: Session, principal: Principal, account_id: str | None, alerts: list[CaseAlert]
) -> dict[str, Any]:
    """The case page's review sections: the screening hits its alerts name and the KYC /
    KYB reviews they come from (empty when the case has none)."""
    out: dict[str, Any] = {"hits": [], "reviews": [], "kyc_decisions": KYC_DECISIONS}
    out["screening_decisions"] = SCREENING_DECISIONS
    out["can_screen"] = principal.can(Permission.SCREENING_REVIEW)
    out["can_kyc"] = principal.can(Permission.KYC_REVIEW)
    if not principal.can(Permission.ACCOUNT_VIEW):
        return out
    hit_ids = hit_ids_of(alerts)
    if hit_ids:
        found = {h.id: h for h in screening.hits_by_ids(session, principal, hit_ids)}
        out["hits"] = [found[i] for i in hit_ids if i in found]
    events = review_events_of(alerts)
    if events and account_id is not None:
        reviews = kyc.reviews_for_account(session, principal, account_id, limit=100)
        chosen = [r for r in reviews if r.event_id in events]
        owner_hits: dict[int, list[Hit]] = {}
        if any(r.submission.get("beneficial_owners") for r in chosen):
            for hit in screening.hits_for_account(session, principal, account_id, limit=200):
                owner_hits.setdefault(hit.subject_id, []).append(hit)
        out["reviews"] = [_review_view(session, r, owner_hits) for r in chosen]
        shown = {a: [r.review.id] for r in out["reviews"] for o in r.owners for a in o.accounts}
        if shown:
            audit.record_views(session, principal, "kyc_review.owner_links", "account", shown)
    return out


def _review_view(session: Session, review: KycReview, hits: dict[int, list[Hit]]) -> ReviewView:
    by_name: dict[str, list[Hit]] = {}
    for subject_hits in hits.values():
        for hit in subject_hits:
            by_name.setdefault(owner_ref(hit.subject_name), []).append(hit)
    owners = []
    for owner in review.submission.get("beneficial_owners") or []:
        name = str(owner.get("full_name") or "")
        owners.append(
            Owner(
                name,
                owner.get("ownership_pct"),
                owner.get("date_of_birth"),
                owner.get("nationality"),
                by_name.get(owner_ref(name), []) if name else [],
                _named(session, name, review.account_id) if name else [],
            )
        )
    return ReviewView(review, list(review.findings or []), owners)


def _named(session: Session, name: str, account_id: str) -> list[str]:
    key = kyc.name_key(name)
    found = set(risk_repository.owner_accounts(session, owner_ref(name), limit=20))
    if key is not None:
        found.update(risk_repository.accounts_named(session, key, limit=20))
    found.discard(account_id)
    return sorted(found)


def _back(case_id: str, done: str) -> str:
    return f"/cases/{case_id}?done={done}" if case_id.isdigit() else f"/?done={done}"


@router.post("/screening/hits/{hit_id}/review")
def review_hit(
    request: Request,
    hit_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    decision: Annotated[str, Form()] = "",
    note: Annotated[LongText, Form()] = "",
    case_id: Annotated[str, Form()] = "",
) -> Response:
    """Decide a screening hit: match, or not a match (remembered: no rescreen raises the
    same hit again), with a note; back to the case."""
    screening.review(db, user.principal, hit_id, decision, note)
    return see_other(_back(case_id, "screened"), request)


@router.post("/kyc/reviews/{review_id}/decide")
def decide_review(
    request: Request,
    review_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    decision: Annotated[str, Form()] = "",
    note: Annotated[LongText, Form()] = "",
    case_id: Annotated[str, Form()] = "",
) -> Response:
    """Approve, reject or ask the customer for more information, with a note; the account's
    KYC standing and rating follow, and so does the case (approved or rejected: closed with
    the note; more information: waiting for the customer). Back to the case."""
    review_outcomes.decide_review(
        db, user.principal, review_id, decision, note, links=rating.graph_links
    )
    return see_other(_back(case_id, "kyc_decided"), request)
