"""HTTP API of the account rating and the KYC/KYB reviews.

Endpoints authenticate, parse, call one ``accounts.rating`` or ``accounts.kyc`` function and
return; permissions and audit entries are the services'.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from riskops.accounts import kyc, rating
from riskops.accounts import risk_schemas as sc
from riskops.accounts.models import KycReviewStatus
from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import ACCOUNT_ID_RULE, errors, json_body, rules
from riskops.http.params import BeforeId, Limit, Offset, RowIdPath
from riskops.kernel.errors import NotFound

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.get(
    "/accounts/{account_id}/rating",
    summary="The account's risk rating, with its reasons",
    openapi_extra=rules(ACCOUNT_ID_RULE),
    responses=errors(404),
)
def get_rating(account_id: str, db: DbSession, who: CurrentPrincipal) -> Response:
    """Score (0-100), band (low, medium, high, prohibited) and the weighted reason codes
    that make them; ``404`` if the account was never rated. Needs ``account:view``."""
    found = rating.view(db, who, account_id)
    if found is None:
        raise NotFound(f"account {account_id!r} has no rating")
    return json_response(sc.rating_out(found))


@router.get(
    "/accounts/{account_id}/rating/history",
    summary="How the account's rating changed, newest first",
    openapi_extra=rules(ACCOUNT_ID_RULE),
)
def rating_history(
    account_id: str,
    db: DbSession,
    who: CurrentPrincipal,
    limit: Limit = 50,
    before_id: BeforeId = None,
) -> Response:
    """Every change of score, band or reasons, with the band before it and what recomputed
    it (monitor, case, kyc); page with ``before_id``. Needs ``account:view``."""
    found = rating.view_history(db, who, account_id, limit=limit, before_id=before_id)
    return json_response([sc.rating_change_out(c) for c in found])


@router.get(
    "/accounts/{account_id}/kyc-reviews",
    summary="The account's KYC / KYB reviews, newest first",
    openapi_extra=rules(ACCOUNT_ID_RULE),
)
def account_reviews(
    account_id: str, db: DbSession, who: CurrentPrincipal, limit: Limit = 20
) -> Response:
    """Each submission with what it carried, its consistency findings and its decision.
    Needs ``account:view``."""
    found = kyc.reviews_for_account(db, who, account_id, limit=min(limit, 100))
    return json_response([sc.review_out(r) for r in found])


@router.get("/kyc-reviews", summary="The KYC / KYB review queue, oldest first")
def review_queue(
    db: DbSession,
    who: CurrentPrincipal,
    status: KycReviewStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Reviews waiting (pending or waiting for more information) by default, or those of
    one ``status``. Needs ``kyc:review``."""
    statuses = (
        (status,) if status is not None else (KycReviewStatus.PENDING, KycReviewStatus.MORE_INFO)
    )
    found = kyc.queue(db, who, statuses=statuses, limit=min(limit, 200), offset=offset)
    return json_response([sc.review_out(r) for r in found])


@router.get("/kyc-reviews/{review_id}", summary="One KYC / KYB review", responses=errors(404))
def get_review(review_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The review with its findings. Needs ``account:view``."""
    return json_response(sc.review_out(kyc.get_review(db, who, review_id)))


@router.post(
    "/kyc-reviews/{review_id}/decision",
    summary="Decide a KYC / KYB review: approve, reject or ask for more information",
    openapi_extra={
        **json_body(sc.KycDecisionIn, "`{decision, note}`."),
        **rules(("$.note", "says why: required, not blank")),
    },
    responses=errors(404, 409),
)
def decide(
    review_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.KycDecisionIn = msgspec_body(sc.KycDecisionIn),
) -> Response:
    """Needs ``kyc:review`` and a note. The account's KYC standing follows (an approval sets
    the level), its rating is recomputed, and the decision is audited; ``409`` if the review
    was decided already."""
    done = kyc.decide(db, who, review_id, body.decision.value, body.note)
    return json_response(sc.review_out(done))


def include(app: FastAPI) -> None:
    """Mount the rating and KYC review routes on the app."""
    app.include_router(router)
