"""SAR pages: the case page's SAR panel (a fragment loaded by htmx), the list (/sars) and
the report (/sars/{id}): edit the subjects, pick transactions from the case's timeline,
write the narrative, submit, approve (a second person), export goAML / FinCEN with the
validation result, mark filed, download the file, legal hold.

Each route parses, calls one ``sar.service`` function and renders; permissions, four-eyes
and the audit entries are the service's.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Form, Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from riskops.auth.permissions import Permission
from riskops.http.deps import DbSession
from riskops.http.params import LongText, Name, Page, RowIdPath
from riskops.http.security import download_headers
from riskops.kernel.errors import ValidationFailed
from riskops.sar import service
from riskops.sar.models import ExportFormat, SarStatus
from riskops.sar.schemas import EditIn
from riskops.web.console.routing import ConsoleRoute, PageUser, form_text, see_other
from riskops.web.console.templating import flash_from, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 25
SUBJECT_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "name",
    "gender",
    "birth_date",
    "nationality",
    "country",
    "id_type",
    "id_number",
    "id_country",
    "id_issued",
    "id_expires",
    "tax_number",
    "phone",
    "email",
    "address",
    "city",
    "occupation",
    "account_id",
)
_OPTIONAL_DATES = ("birth_date", "id_issued", "id_expires")
FLASH = {
    "drafted": "Draft created from the case: check the subjects, transactions and narrative.",
    "saved": "Saved.",
    "submitted": "Submitted for approval by a second person.",
    "approved": "Approved: export it, then mark it filed.",
    "returned": "Returned to the drafter.",
    "withdrawn": "Withdrawn: it will not be filed.",
    "exported": "Exported: the file validated against the schema.",
    "filed": "Marked filed.",
    "hold": "Legal hold changed.",
}


def _flash(request: Request, context: dict[str, Any]) -> dict[str, Any]:
    return flash_from(request, "sar", FLASH, context)


@router.get("/cases/{case_id}/sar")
def case_panel(request: Request, case_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """The case page's SAR panel: its report's status and link, or "Draft SAR" for one who
    may; nothing for one who may not see SARs."""
    principal = user.principal
    visible = any(principal.can(p) for p in service.VIEW)
    reports = service.of_case(db, principal, case_id) if visible else []
    live = next((r for r in reports if r.status is not SarStatus.WITHDRAWN), None)
    context = {
        "visible": visible,
        "reports": reports,
        "live": live,
        "case_id": case_id,
        "can_draft": principal.can(Permission.SAR_DRAFT) and live is None,
    }
    return render(request, "sar_case_panel.html", context)


@router.get("/sars")
def list_page(
    request: Request,
    db: DbSession,
    user: PageUser,
    status: Annotated[SarStatus | None, Query()] = None,
    account_id: Annotated[Name | None, Query()] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    page: Page = 1,
) -> Response:
    """Reports, newest first, filtered by status, account or case; a page at a time."""
    rows, total = service.listing(
        db,
        user.principal,
        status=status,
        case_id=case_id,
        account_id=account_id or None,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    filters = {"status": status.value if status else "", "account_id": account_id or ""}
    if case_id:
        filters["case_id"] = str(case_id)
    query = urlencode({k: v for k, v in filters.items() if v})
    context = {
        "reports": rows,
        "total": total,
        "page": page,
        "has_more": page * PAGE < total,
        "statuses": [s.value for s in SarStatus],
        "filters": filters,
        "query": query,
        "nav": "sars",
    }
    return render(request, "sars.html", context)


@router.post("/sars")
def draft(
    request: Request,
    db: DbSession,
    user: PageUser,
    case_id: Annotated[int, Form(ge=1, le=2**62)],
) -> Response:
    """Draft a report from the case; to its page."""
    report = service.draft_from_case(db, user.principal, case_id)
    return see_other(f"/sars/{report.id}?sar=drafted", request)


def _page(
    request: Request,
    db: DbSession,
    user: PageUser,
    sar_id: int,
    *,
    validation: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    principal = user.principal
    report, accounts = service.get(db, principal, sar_id)
    chosen = {str(t.get("event_id")) for t in report.transactions}
    offered = service.candidates(db, principal, sar_id)
    known = {t["event_id"] for t in offered}
    offered = [t for t in report.transactions if str(t.get("event_id")) not in known] + offered
    editable = report.status in (SarStatus.DRAFT, SarStatus.AWAITING_APPROVAL)
    exports = service.exports(db, principal, sar_id)
    current = [e for e in exports if e.report_version == report.version]
    context = {
        "r": report,
        "accounts": accounts,
        "subjects": [*report.subjects, {"kind": "person"}] if editable else report.subjects,
        "fields": SUBJECT_FIELDS,
        "offered": offered,
        "chosen": chosen,
        "editable": editable,
        "exports": exports,
        "fileable": current if report.status is SarStatus.APPROVED else [],
        "validation": validation,
        "can_draft": principal.can(Permission.SAR_DRAFT),
        "can_approve": principal.can(Permission.SAR_APPROVE),
        "own": principal.name == report.drafted_by,
        "can_file": principal.can(Permission.SAR_FILE),
        "can_hold": principal.can(Permission.RETENTION_MANAGE),
        "formats": [f.value for f in ExportFormat],
        "total_usd": service.total_usd(report),
        "nav": "sars",
    }
    return render(request, "sar.html", _flash(request, context), status_code=status_code)


@router.get("/sars/{sar_id}")
def report_page(request: Request, sar_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """The report: its facts, the edit form while a draft, the approval, exports, filing."""
    return _page(request, db, user, sar_id)


def _subjects(form: FormData) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for i in range(50):
        row = {k: form_text(form, f"s{i}_{k}") for k in SUBJECT_FIELDS}
        if not any(v for k, v in row.items() if k != "kind"):
            if f"s{i}_kind" not in form:
                break
            continue
        subject: dict[str, Any] = {k: v for k, v in row.items() if v}
        for key in _OPTIONAL_DATES:
            subject.setdefault(key, None)
        subject.setdefault("kind", "person")
        found.append(subject)
    return found


@router.post("/sars/{sar_id}/edit")
async def edit(request: Request, sar_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    """Save the form: typology, period, narrative, subjects, the ticked transactions."""
    form = await request.form()
    body: dict[str, Any] = {
        "typology": form_text(form, "typology"),
        "narrative": str(form.get("narrative") or ""),
        "subjects": _subjects(form),
        "event_ids": [str(v) for v in form.getlist("event_id")],
    }
    for key in ("activity_from", "activity_to"):
        value = form_text(form, key)
        if value:
            body[key] = value if len(value) > 10 else f"{value}T00:00:00Z"
    try:
        changes = msgspec.convert(body, EditIn, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(
            "the report is not valid", details=[{"field": "form", "reason": str(exc)}]
        ) from None
    service.edit(db, user.principal, sar_id, changes)
    return see_other(f"/sars/{sar_id}?sar=saved", request)


@router.post("/sars/{sar_id}/submit")
def submit(request: Request, sar_id: RowIdPath, db: DbSession, user: PageUser) -> Response:
    service.submit(db, user.principal, sar_id)
    return see_other(f"/sars/{sar_id}?sar=submitted", request)


@router.post("/sars/{sar_id}/approve")
def approve(
    request: Request,
    sar_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    decision: Annotated[Name, Form()] = "approve",
    comment: Annotated[LongText, Form()] = "",
) -> Response:
    """Approve (a second person), or return with a comment."""
    chosen = "return" if decision == "return" else "approve"
    service.approve(db, user.principal, sar_id, decision=chosen, comment=comment)
    done = "returned" if chosen == "return" else "approved"
    return see_other(f"/sars/{sar_id}?sar={done}", request)


@router.post("/sars/{sar_id}/withdraw")
def withdraw(
    request: Request,
    sar_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    reason: Annotated[LongText, Form()] = "",
) -> Response:
    service.withdraw(db, user.principal, sar_id, reason)
    return see_other(f"/sars/{sar_id}?sar=withdrawn", request)


@router.post("/sars/{sar_id}/export")
def export(
    request: Request,
    sar_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    format: Annotated[ExportFormat, Form()] = ExportFormat.GOAML,
) -> Response:
    """Export and validate; the page shows the result: the file, or every reason."""
    try:
        service.export(db, user.principal, sar_id, format)
    except ValidationFailed as exc:
        result = {"format": format.value, "errors": list(exc.details or [])}
        return _page(request, db, user, sar_id, validation=result, status_code=422)
    return see_other(f"/sars/{sar_id}?sar=exported", request)


@router.get("/sars/{sar_id}/exports/{export_id}")
def download(
    request: Request, sar_id: RowIdPath, export_id: RowIdPath, db: DbSession, user: PageUser
) -> Response:
    """The exported XML file, as a download."""
    found = service.export_file(db, user.principal, sar_id, export_id)
    name = f"sar-{sar_id}-{found.format.value}-{found.id}.xml"
    return Response(
        found.content.encode(),
        media_type="application/xml",
        headers=download_headers(name, "sar.xml"),
    )


@router.post("/sars/{sar_id}/file")
def file(
    request: Request,
    sar_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    export_id: Annotated[int, Form(ge=1, le=2**62)],
    fiu_reference: Annotated[Name, Form()] = "",
) -> Response:
    service.file(db, user.principal, sar_id, export_id, fiu_reference=fiu_reference)
    return see_other(f"/sars/{sar_id}?sar=filed", request)


@router.post("/sars/{sar_id}/legal-hold")
def legal_hold(
    request: Request,
    sar_id: RowIdPath,
    db: DbSession,
    user: PageUser,
    hold: Annotated[Name, Form()] = "",
    reason: Annotated[LongText, Form()] = "",
) -> Response:
    service.set_legal_hold(db, user.principal, sar_id, hold=hold == "1", reason=reason)
    return see_other(f"/sars/{sar_id}?sar=hold", request)
