"""The rule author's workbench (/workbench): rules and models with their versions, state,
30 days' hits and TP rates; a rule's page (versions, history, requests); the editor with
validation as you type; backtests of a draft on the stored history; shadow vs live; and
promotion requests approved by a second person.

Each route parses, calls one ``authoring`` function and renders; permissions, four-eyes
and the audit entries are the services' (ADR 0040).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import Response

from riskops.auth.permissions import Permission
from riskops.authoring import backtests, promotions, service
from riskops.authoring.models import SubjectKind
from riskops.http.deps import DbSession, container
from riskops.http.params import LongText, Page, RowIdPath
from riskops.web.console.routing import ConsoleRoute, PageUser, see_other
from riskops.web.console.templating import flash_from, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 25
IDS_PAGE = 50
RuleIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$", description="a rule id")]
ModelIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="a model id")]
JobIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a backtest id")]
Text = Annotated[str, Query(max_length=128)]
Source = Annotated[str, Form(max_length=service.MAX_DOCUMENT * 2)]
FLASH = {
    "saved": "Draft saved.",
    "unchanged": "Nothing changed: the draft is the same as the version shown.",
    "requested": "Promotion requested: a second person with rule:promote approves it.",
    "approved": "Approved: the change is made.",
    "rejected": "Request rejected.",
}


def _flash(request: Request, context: dict[str, Any]) -> dict[str, Any]:
    return flash_from(request, "wb", FLASH, context)


@router.get("/workbench")
def workbench(
    request: Request,
    db: DbSession,
    user: PageUser,
    tab: Annotated[str, Query(pattern="^(rules|models)$")] = "rules",
    state: Text = "",
    typology: Text = "",
    q: Text = "",
    page: Page = 1,
) -> Response:
    """Rules (or models) with their versions and state, 30 days' alerts and TP rates;
    filters by state and typology, search by id or name."""
    principal = user.principal
    found = service.listing(
        db, principal, state=state, typology=typology, q=q, limit=PAGE, offset=(page - 1) * PAGE
    )
    _, waiting = promotions.pending_requests(db, principal, 1)
    filters = {
        k: v for k, v in {"tab": tab, "state": state, "typology": typology, "q": q}.items() if v
    }
    context = {
        "found": found,
        "tab": tab,
        "state": state,
        "typology": typology,
        "q": q,
        "page": page,
        "has_more": page * PAGE < found.total,
        "query": urlencode(filters),
        "states": service.STATES,
        "waiting": waiting,
        "can_promote": principal.can(Permission.RULE_PROMOTE),
        "nav": "workbench",
    }
    return render(request, "workbench.html", _flash(request, context))


@router.get("/workbench/requests")
def requests_page(request: Request, db: DbSession, user: PageUser, page: Page = 1) -> Response:
    """Promotion requests waiting for a second person, oldest first."""
    principal = user.principal
    rows, total = promotions.pending_requests(db, principal, PAGE, (page - 1) * PAGE)
    context = {
        "requests": rows,
        "total": total,
        "page": page,
        "has_more": page * PAGE < total,
        "can_promote": principal.can(Permission.RULE_PROMOTE),
        "nav": "workbench",
    }
    return render(request, "workbench_requests.html", _flash(request, context))


@router.post("/workbench/requests/{request_id}/approve")
def approve(
    request: Request,
    request_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    why: Annotated[LongText, Form()] = "",
) -> Response:
    """Approve a pending request (not your own): the change is made."""
    row = promotions.approve(db, user.principal, request_id, why)
    return see_other(_subject_url(row.kind, row.subject_id, "approved"), request)


@router.post("/workbench/requests/{request_id}/reject")
def reject(
    request: Request,
    request_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    why: Annotated[LongText, Form()] = "",
) -> Response:
    """Reject a pending request, with a reason."""
    promotions.reject(db, user.principal, request_id, why)
    return see_other("/workbench/requests?wb=rejected", request)


def _subject_url(kind: str, subject_id: str, flash: str) -> str:
    if kind == SubjectKind.MODEL.value:
        return f"/workbench?tab=models&wb={flash}"
    return f"/workbench/rules/{subject_id}?wb={flash}"


@router.get("/workbench/rules/{rule_id}")
def rule_page(request: Request, rule_id: RuleIdPath, db: DbSession, user: PageUser) -> Response:
    """A rule's versions (newest first) with their alerts and TP rates, the promotion and
    rollback forms, backtest and compare, its requests and status history."""
    principal = user.principal
    view = service.rule_view(db, principal, rule_id)
    context = {
        "r": view,
        "live": view.current("live"),
        "shadow": view.current("shadow"),
        "can_promote": principal.can(Permission.RULE_PROMOTE),
        "days": backtests.DEFAULT_DAYS,
        "cap": backtests.DEFAULT_CAP,
        "nav": "workbench",
    }
    return render(request, "workbench_rule.html", _flash(request, context))


@router.post("/workbench/rules/{rule_id}/promote")
def request_promotion(
    request: Request,
    rule_id: RuleIdPath,
    db: DbSession,
    user: PageUser,
    version: Annotated[int, Form(ge=1, le=1_000_000)],
    target: Annotated[str, Form(max_length=16)],
    why: Annotated[LongText, Form()] = "",
    rollback: Annotated[bool, Form()] = False,
) -> Response:
    """Ask for a version to become shadow, live or retired (or a rollback to live)."""
    promotions.request_promotion(
        db, user.principal, SubjectKind.RULE, rule_id, version, target, why, rollback=rollback
    )
    return see_other(f"/workbench/rules/{rule_id}?wb=requested", request)


@router.post("/workbench/models/{model_id}/promote")
def request_model_promotion(
    request: Request,
    model_id: ModelIdPath,
    db: DbSession,
    user: PageUser,
    version: Annotated[int, Form(ge=1, le=1_000_000)],
    target: Annotated[str, Form(max_length=16)],
    why: Annotated[LongText, Form()] = "",
) -> Response:
    """Ask for a model version to become shadow, live or retired."""
    promotions.request_promotion(
        db, user.principal, SubjectKind.MODEL, model_id, version, target, why
    )
    return see_other("/workbench?tab=models&wb=requested", request)


@router.get("/workbench/editor")
def editor(
    request: Request,
    db: DbSession,
    user: PageUser,
    rule: Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{0,64}$")] = "",
) -> Response:
    """The editor: one rule's YAML, checked as you type; saving makes a draft version."""
    source = service.draft_template(db, user.principal, rule or None)
    context = {
        "source": source,
        "rule": rule,
        "checked": service.check_draft(user.principal, source),
        "nav": "workbench",
    }
    return render(request, "workbench_editor.html", context)


@router.post("/workbench/editor/check")
def check(request: Request, user: PageUser, source: Source = "") -> Response:
    """The editor's problems (an htmx fragment), and the save button, disabled while the
    rule is not valid."""
    checked = service.check_draft(user.principal, source)
    return render(request, "_workbench_check.html", {"checked": checked, "oob": True})


@router.post("/workbench/editor")
def save(request: Request, db: DbSession, user: PageUser, source: Source = "") -> Response:
    """Save the editor's rule as a new draft version."""
    saved = service.save_draft(db, user.principal, source)
    flash = "saved" if saved.created else "unchanged"
    return see_other(f"/workbench/rules/{saved.rule_id}?wb={flash}", request)


@router.post("/workbench/rules/{rule_id}/backtests")
def start_backtest(
    request: Request,
    rule_id: RuleIdPath,
    db: DbSession,
    user: PageUser,
    version: Annotated[int, Form(ge=1, le=1_000_000)],
    days: Annotated[int, Form(ge=1, le=backtests.MAX_DAYS)] = backtests.DEFAULT_DAYS,
    cap: Annotated[int, Form(ge=1_000, le=backtests.MAX_CAP)] = backtests.DEFAULT_CAP,
) -> Response:
    """Start a backtest of a version on the stored history; its page polls the result."""
    sessions = container(request).sessions
    job = backtests.JOBS.start(db, sessions, user.principal, rule_id, version, days, cap)
    return see_other(f"/workbench/backtests/{job.id}", request)


def _job_context(job: backtests.Job, page: int) -> dict[str, Any]:
    result = job.result
    start, end = (page - 1) * IDS_PAGE, page * IDS_PAGE
    return {
        "job": job,
        "b": result,
        "page": page,
        "added": result.added[start:end] if result else [],
        "removed": result.removed[start:end] if result else [],
        "has_more": result is not None and max(len(result.added), len(result.removed)) > end,
        "nav": "workbench",
    }


@router.get("/workbench/backtests/{job_id}")
def backtest_page(request: Request, job_id: JobIdPath, user: PageUser, page: Page = 1) -> Response:
    """A backtest: running (the page polls), failed, or its result."""
    job = backtests.JOBS.get(user.principal, job_id)
    return render(request, "workbench_backtest.html", _job_context(job, page))


@router.get("/workbench/backtests/{job_id}/status")
def backtest_status(
    request: Request, job_id: JobIdPath, user: PageUser, page: Page = 1
) -> Response:
    """The backtest's state and result (the fragment the page polls while it runs)."""
    job = backtests.JOBS.get(user.principal, job_id)
    return render(request, "_workbench_backtest.html", _job_context(job, page))


@router.get("/workbench/rules/{rule_id}/compare")
def compare(
    request: Request,
    rule_id: RuleIdPath,
    db: DbSession,
    user: PageUser,
    days: Annotated[int, Query(ge=1, le=service.MAX_COMPARE_DAYS)] = service.STATS_DAYS,
    page: Page = 1,
) -> Response:
    """Shadow vs live over a period: both counts, overlap, what only one flagged, TP rates."""
    c = service.compare_shadow(db, user.principal, rule_id, days)
    start, end = (page - 1) * IDS_PAGE, page * IDS_PAGE
    context = {
        "c": c,
        "days": days,
        "page": page,
        "only_shadow": c.only_shadow[start:end],
        "only_live": c.only_live[start:end],
        "has_more": max(len(c.only_shadow), len(c.only_live)) > end,
        "nav": "workbench",
    }
    return render(request, "workbench_compare.html", context)
