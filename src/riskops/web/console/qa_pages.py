"""QA pages: the QA queue (/qa), the review form (/qa/{id}), the agreement tables
(/qa/agreement), the sampling plan (/qa/plan), the case page's QA panel and the analyst's
disagreements on "My work" (fragments loaded by htmx).

Each route parses, calls one ``qa.service`` function and renders; permissions, four-eyes and
the audit entries are the service's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from riskops.auth.permissions import Permission
from riskops.cases import service as cases
from riskops.cases.models import ActionStatus, CaseOutcome
from riskops.http.deps import DbSession
from riskops.http.params import LongText, Name, Page, RowIdPath, ShortText
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import ValidationFailed
from riskops.qa import service as qa
from riskops.qa.schemas import PlanIn, ReviewIn
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import flash_from, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 25
OUTCOMES = [o.value for o in CaseOutcome]
FLASH = {
    "reviewed": "Review recorded.",
    "taken": "Sample taken: it is yours to review.",
    "assigned": "Sample assigned.",
    "plan": "Sampling plan saved: cases closed from now on are drawn under it.",
    "sampled": "Sampling pass done.",
}


def _flash(request: Request, context: dict[str, Any]) -> dict[str, Any]:
    return flash_from(request, "qa", FLASH, context)


@router.get("/qa")
def queue_page(request: Request, db: DbSession, user: PageUser, page: Page = 1) -> Response:
    """Samples waiting for a second review, oldest first: take one, or (qa:manage) give it
    to a reviewer; the empty state says how sampling works."""
    principal = user.principal
    samples, total = qa.waiting(db, principal, limit=PAGE, offset=(page - 1) * PAGE)
    can_manage = principal.can(Permission.QA_MANAGE)
    context = {
        "samples": samples,
        "total": total,
        "page": page,
        "has_more": page * PAGE < total,
        "plan": qa.current_plan(db, principal),
        "can_manage": can_manage,
        "reviewers": qa.reviewers(db, principal) if can_manage else [],
        "nav": "qa",
    }
    return render(request, "qa.html", _flash(request, context))


@router.post("/qa/sample")
def sample_now(request: Request, db: DbSession, user: PageUser) -> Response:
    """Run a sampling pass now (qa:manage); the worker runs one on its own schedule."""
    qa.sample_all(db, user.principal)
    return see_other("/qa?qa=sampled", request)


@router.get("/qa/plan")
def plan_page(request: Request, db: DbSession, user: PageUser) -> Response:
    """The plan in force and the form that saves the next version (qa:manage)."""
    principal = user.principal
    context = {
        "plan": qa.current_plan(db, principal),
        "can_manage": principal.can(Permission.QA_MANAGE),
        "outcomes": OUTCOMES,
        "nav": "qa",
    }
    return render(request, "qa_plan.html", _flash(request, context))


def _rates(field: str, text: str) -> dict[str, float]:
    """``key=rate, key=rate`` (or one per line) as a dict; ValidationFailed naming the field."""
    out: dict[str, float] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise ValidationFailed(
                "the plan is not valid",
                details=[{"field": field, "reason": f"{part.strip()!r}: write key=rate"}],
            ) from None
    return out


@router.post("/qa/plan")
async def save_plan(request: Request, db: DbSession, user: PageUser) -> Response:
    """Save the form as the next plan version (qa:manage)."""
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    body: dict[str, Any] = {
        "base_rate": text("base_rate") or "0",
        "new_analyst_rate": text("new_analyst_rate") or "0",
        "new_analyst_days": text("new_analyst_days") or "90",
        "outcome_rates": [
            {"outcome": o, "rate": text(f"outcome_{o}")} for o in OUTCOMES if text(f"outcome_{o}")
        ],
        "queue_rates": [
            {"queue": k, "rate": v} for k, v in _rates("queue_rates", text("queue_rates")).items()
        ],
        "analyst_rates": [
            {"analyst": k, "rate": v}
            for k, v in _rates("analyst_rates", text("analyst_rates")).items()
        ],
        "seed": text("seed"),
    }
    try:
        plan = msgspec.convert(body, PlanIn, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(
            "the plan is not valid", details=[{"field": "plan", "reason": str(exc)}]
        ) from None
    qa.save_plan(db, user.principal, plan)
    return see_other("/qa/plan?qa=plan", request)


@router.get("/qa/agreement")
def agreement_page(request: Request, db: DbSession, user: PageUser, days: Page = 30) -> Response:
    """Agreement per analyst and per rule over the last ``days`` days, with Cohen's kappa."""
    principal = user.principal
    end = utcnow()
    start = end - timedelta(days=min(days, 3650))
    context = {
        "by_analyst": qa.agreement(db, principal, start, end, by="analyst"),
        "by_rule": qa.agreement(db, principal, start, end, by="rule"),
        "since": start,
        "until": end,
        "days": days,
        "nav": "qa",
    }
    return render(request, "qa_agreement.html", context)


@router.get("/qa/mine")
def my_disagreements(request: Request, db: DbSession, user: PageUser) -> Response:
    """The "My work" fragment: QA disagreements with my decisions not acknowledged yet."""
    found = qa.my_disagreements(db, user.principal)
    return render(request, "qa_mine.html", {"disagreements": found})


@router.post("/qa/{sample_id}/acknowledge")
def acknowledge(request: Request, sample_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """I read the reviewer's disagreement (it leaves "My work")."""
    qa.acknowledge(db, user.principal, sample_id)
    return see_other("/my", request)


@router.get("/cases/{case_id}/qa")
def case_panel(request: Request, case_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """The case page's QA panel: the sample of this case and its review, if any."""
    sample = qa.of_case(db, user.principal, case_id)
    context = {
        "sample": sample,
        "case_id": case_id,
        "can_review": user.principal.can(Permission.QA_REVIEW),
    }
    return render(request, "qa_case_panel.html", context)


@router.get("/qa/{sample_id}")
def review_page(request: Request, sample_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """The sampled case (link, decision, note) and the review form: a = agree, d = disagree."""
    principal = user.principal
    sample = qa.get_sample(db, principal, sample_id)
    detail = cases.case_detail(db, principal, sample.case_id)
    done = [a for a in detail.actions if a.status is ActionStatus.DONE]
    closing = done[-1] if done else None
    note = next((n for n in detail.notes if closing and n.note.id == closing.note_id), None)
    context = {
        "s": sample,
        "c": detail.case,
        "closing": closing,
        "note": note,
        "outcomes": OUTCOMES,
        "own": principal.name in (sample.analyst, sample.approver),
        "can_reopen": principal.can(Permission.CASE_REOPEN),
        "nav": "qa",
    }
    return render(request, "qa_review.html", _flash(request, context))


@router.post("/qa/{sample_id}/take")
def take(request: Request, sample_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """Take the sample and open its review."""
    qa.take(db, user.principal, sample_id)
    return see_other(f"/qa/{sample_id}?qa=taken", request)


@router.post("/qa/{sample_id}/assign")
def assign(
    request: Request,
    sample_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    reviewer: Annotated[Name, Form()] = "",
) -> Response:
    """Give the sample to a reviewer (qa:manage)."""
    if not reviewer:
        raise ValidationFailed(
            "choose a reviewer", details=[{"field": "reviewer", "reason": "required"}]
        )
    qa.assign(db, user.principal, sample_id, reviewer)
    return see_other("/qa?qa=assigned", request)


@router.post("/qa/{sample_id}/review")
def review(
    request: Request,
    sample_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    verdict: Annotated[ShortText, Form()] = "",
    outcome: Annotated[ShortText, Form()] = "",
    reason: Annotated[LongText, Form()] = "",
) -> Response:
    """Record the review; back to the QA queue."""
    if verdict not in ("agree", "disagree"):
        raise ValidationFailed(
            "choose agree or disagree", details=[{"field": "verdict", "reason": "required"}]
        )
    if outcome and outcome not in OUTCOMES:
        raise ValidationFailed(
            "unknown outcome", details=[{"field": "outcome", "reason": f"one of {OUTCOMES}"}]
        )
    chosen: Literal["agree", "disagree"] = "agree" if verdict == "agree" else "disagree"
    body = ReviewIn(chosen, CaseOutcome(outcome) if outcome else None, reason)
    qa.review(db, user.principal, sample_id, body)
    return see_other("/qa?qa=reviewed", request)
