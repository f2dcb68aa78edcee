"""The API shapes of the account rating and the KYC/KYB reviews (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from riskops.accounts.kyc import Decision
from riskops.accounts.models import KycReview
from riskops.accounts.rating import Rating, RatingChange
from riskops.kernel.bounds import LongText


class RatingReasonOut(msgspec.Struct):
    code: str  # e.g. COUNTRY_FATF_INCREASED_MONITORING, ALERTS_HIGH, SCREENING_OPEN
    points: int
    detail: str
    prohibits: bool  # makes the band prohibited whatever the score


class RatingOut(msgspec.Struct):
    account_id: str
    score: int  # 0-100
    band: str  # low | medium | high | prohibited
    reasons: list[RatingReasonOut]  # heaviest first
    computed_at: datetime


class RatingChangeOut(msgspec.Struct):
    id: int
    rating: RatingOut
    previous_band: str | None
    trigger: str  # what recomputed it: monitor, case, kyc, manual


class KycFindingOut(msgspec.Struct):
    code: str  # e.g. COUNTRY_MISMATCH, UNDER_18, SCREENING_MATCH, OWNER_LINKED
    severity: str  # info | low | medium | high
    detail: str
    subject: str  # holder | company | owner: NAME


class KycReviewOut(msgspec.Struct):
    id: int
    account_id: str
    kind: str  # kyc | kyb
    event_id: str  # the submission
    submitted_at: datetime
    submission: dict[str, Any]  # what the event carried (owners for a KYB)
    findings: list[KycFindingOut]  # worst first
    status: str  # pending | approved | rejected | more_info
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


class KycDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Decision  # approve | reject | more_info
    note: LongText = ""  # required: the service refuses a decision without one


def rating_out(rating: Rating) -> RatingOut:
    return RatingOut(
        rating.account_id,
        rating.score,
        rating.band.value,
        [RatingReasonOut(r.code, r.points, r.detail, r.prohibits) for r in rating.reasons],
        rating.computed_at,
    )


def rating_change_out(change: RatingChange) -> RatingChangeOut:
    previous = change.previous_band.value if change.previous_band is not None else None
    return RatingChangeOut(change.id, rating_out(change.rating), previous, change.trigger)


def review_out(review: KycReview) -> KycReviewOut:
    return KycReviewOut(
        review.id,
        review.account_id,
        review.kind.value,
        review.event_id,
        review.submitted_at,
        dict(review.submission),
        [
            KycFindingOut(
                str(f.get("code", "")),
                str(f.get("severity", "")),
                str(f.get("detail", "")),
                str(f.get("subject", "")),
            )
            for f in review.findings
        ],
        review.status.value,
        review.created_at,
        review.decided_by,
        review.decided_at,
        review.note,
    )
