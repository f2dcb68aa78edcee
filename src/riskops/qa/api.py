"""HTTP API of QA: the sampling plan, the samples waiting for a second review, the review,
and the agreement figures.

Endpoints authenticate, parse, call one ``qa.service`` function and return; permissions,
four-eyes and the audit entries are the service's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import errors, json_body, rules
from riskops.http.params import Limit, Offset, RowIdPath
from riskops.kernel.errors import NotFound
from riskops.qa import schemas as sc
from riskops.qa import service

router = APIRouter(prefix="/v1/qa", tags=["qa"])


@router.get("/plan", summary="The sampling plan in force", responses=errors(404))
def get_plan(db: DbSession, who: CurrentPrincipal) -> Response:
    """Its version, rates (base, per outcome, per queue, per analyst, new analysts) and seed;
    404 before a plan is saved; needs ``qa:review``."""
    plan = service.current_plan(db, who)
    if plan is None:
        raise NotFound("no sampling plan yet: save one (qa:manage)")
    return json_response(sc.plan_out(plan))


@router.put(
    "/plan",
    summary="Save a new version of the sampling plan",
    openapi_extra=json_body(
        sc.PlanIn,
        "`{base_rate, outcome_rates?: [{outcome, rate}], queue_rates?: [{queue, rate}],"
        " analyst_rates?: [{analyst, rate}], new_analyst_rate?, new_analyst_days?, seed?}`.",
    ),
)
def put_plan(
    db: DbSession, who: CurrentPrincipal, body: sc.PlanIn = msgspec_body(sc.PlanIn)
) -> Response:
    """Needs ``qa:manage``. Cases closed from now on are drawn under the new version (a case
    already read is not drawn again); a case's rate is the highest rate that applies to it.
    Audited."""
    return json_response(sc.plan_out(service.save_plan(db, who, body)))


@router.get("/samples", summary="Samples waiting for a second review, oldest first")
def samples(
    db: DbSession, who: CurrentPrincipal, limit: Limit = 50, offset: Offset = 0
) -> Response:
    """Samples not reviewed yet (waiting, or taken by a reviewer); needs ``qa:review``."""
    found, _ = service.waiting(db, who, limit=limit, offset=offset)
    return json_response([sc.sample_out(s) for s in found])


@router.get("/samples/{sample_id}", summary="One QA sample", responses=errors(404))
def sample(sample_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The sample, why it was drawn and its review if done; needs ``qa:review``."""
    return json_response(sc.sample_out(service.get_sample(db, who, sample_id)))


@router.post(
    "/samples/{sample_id}/take",
    summary="Take a sample to review it",
    responses=errors(404, 409),
)
def take(sample_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Needs ``qa:review``; never a case one decided or approved (403, four-eyes); 409 if
    someone else has it or it is reviewed. Audited."""
    return json_response(sc.sample_out(service.take(db, who, sample_id)))


@router.post(
    "/samples/{sample_id}/review",
    summary="Record the second review of a sampled case",
    responses=errors(404, 409),
    openapi_extra={
        **json_body(sc.ReviewIn, "`{verdict: agree | disagree, outcome?, reason}`."),
        **rules(
            ("$.reason", "required when the verdict is disagree"),
            ("$.outcome", "on agree, the case's own outcome (or none)"),
        ),
    },
)
def review(
    sample_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.ReviewIn = msgspec_body(sc.ReviewIn),
) -> Response:
    """Needs ``qa:review``; never by who decided or approved the case (403). A disagreement
    writes a case history entry and a note for the analyst (the case is not reopened: a
    ``case:reopen`` holder does that). Reviewed once (409). Audited."""
    return json_response(sc.sample_out(service.review(db, who, sample_id, body)))


@router.get("/agreement", summary="Agreement per analyst or per rule, with Cohen's kappa")
def agreement(
    db: DbSession,
    who: CurrentPrincipal,
    by: Literal["analyst", "rule"] = "analyst",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """The reviews done in [since, until) (default: the last 30 days; a time without offset
    is UTC): per analyst or per rule of the case's alerts, reviewed, agreed, disagreed,
    agreement rate, and Cohen's kappa of the case outcome against the reviewer's (null, with
    ``kappa_undefined`` saying why, under 5 reviews or with a single outcome category);
    needs ``qa:review``."""
    start, end = service.period(since, until)
    rows = service.agreement(db, who, start, end, by=by)
    return json_response([sc.agreement_out(r) for r in rows])


def include(app: FastAPI) -> None:
    """Mount the QA routes on the app."""
    app.include_router(router)
