"""HTTP API of SAR work: reports drafted from cases, edited, submitted, approved by a second
person, exported in goAML or FinCEN XML (validated against the schema), filed, withdrawn,
held for legal reasons.

Endpoints authenticate, parse, call one ``sar.service`` function and return; permissions,
four-eyes, the audit entry and the state rules are the service's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response, msgspec_body
from riskops.http.deps import DbSession
from riskops.http.openapi import errors, json_body, rules
from riskops.http.params import Limit, Offset, RowIdPath
from riskops.http.security import download_headers
from riskops.sar import schemas as sc
from riskops.sar import service
from riskops.sar.models import SarReport, SarStatus

router = APIRouter(prefix="/v1", tags=["sar"])


def _out(db: DbSession, report: SarReport) -> sc.SarOut:
    return sc.sar_out(report, service.accounts_of(db, report.id))


@router.get("/sars", summary="SARs, newest first")
def list_sars(
    db: DbSession,
    who: CurrentPrincipal,
    status: SarStatus | None = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    account_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """A page of reports (status, case, drafter, approver, dates; no personal data),
    filtered by status, case or an account they name; needs ``sar:draft``."""
    rows, total = service.listing(
        db, who, status=status, case_id=case_id, account_id=account_id, limit=limit, offset=offset
    )
    return json_response(sc.SarPage([sc.summary(r) for r in rows], total, limit, offset))


@router.post(
    "/sars",
    summary="Draft a SAR from a case",
    status_code=201,
    responses=errors(404, 409),
    openapi_extra=json_body(sc.DraftIn, "`{case_id}`: a case referred for SAR, or open."),
)
def draft(
    db: DbSession, who: CurrentPrincipal, body: sc.DraftIn = msgspec_body(sc.DraftIn)
) -> Response:
    """Needs ``sar:draft``. The case's account's KYC becomes the subject, the events its
    alerts name the transactions, its notes the narrative; one live report per case
    (409). Audited."""
    report = service.draft_from_case(db, who, body.case_id)
    return json_response(_out(db, report), 201)


@router.get("/sars/{sar_id}", summary="One SAR", responses=errors(404))
def get_sar(sar_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The report in full (subjects, transactions, narrative, approval, filing record,
    retention); needs ``sar:draft``; audited."""
    report, accounts = service.get(db, who, sar_id)
    return json_response(sc.sar_out(report, accounts))


@router.patch(
    "/sars/{sar_id}",
    summary="Edit a SAR draft",
    responses=errors(404, 409),
    openapi_extra=json_body(sc.EditIn, "The fields to change; absent ones stay."),
)
def edit(
    sar_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.EditIn = msgspec_body(sc.EditIn),
) -> Response:
    """Needs ``sar:draft``; a draft only (one awaiting approval goes back to draft). Audited
    with a diff of what changed."""
    report = service.edit(db, who, sar_id, body)
    return json_response(_out(db, report))


@router.get(
    "/sars/{sar_id}/candidates",
    summary="Transactions a SAR may name",
    responses=errors(404),
)
def candidates(sar_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """The money-moving events of the report's accounts' timelines, newest first (up to
    200), to pick the report's transactions from (``event_ids`` of an edit)."""
    return json_response(service.candidates(db, who, sar_id))


@router.post(
    "/sars/{sar_id}/submit", summary="Submit a SAR for approval", responses=errors(404, 409)
)
def submit(sar_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Needs ``sar:draft``; a complete draft (422 names each missing field)."""
    report = service.submit(db, who, sar_id)
    return json_response(_out(db, report))


@router.post(
    "/sars/{sar_id}/approve",
    summary="Approve a SAR, or return it to its drafter",
    responses=errors(404, 409),
    openapi_extra={
        **json_body(sc.ApproveIn, "`{decision: approve | return, comment}`."),
        **rules(("$.comment", "required to return")),
    },
)
def approve(
    sar_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.ApproveIn = msgspec_body(sc.ApproveIn),
) -> Response:
    """Needs ``sar:approve``; four-eyes: not the drafter (403). Audited."""
    report = service.approve(db, who, sar_id, decision=body.decision, comment=body.comment)
    return json_response(_out(db, report))


@router.post(
    "/sars/{sar_id}/withdraw",
    summary="Withdraw a SAR (decide not to file)",
    responses=errors(404, 409),
    openapi_extra={
        **json_body(sc.WithdrawIn, "`{reason}`."),
        **rules(("$.reason", "required, not blank")),
    },
)
def withdraw(
    sar_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.WithdrawIn = msgspec_body(sc.WithdrawIn),
) -> Response:
    """Needs ``sar:approve``; not once filed. The record is kept for the retention period."""
    report = service.withdraw(db, who, sar_id, body.reason)
    return json_response(_out(db, report))


@router.post(
    "/sars/{sar_id}/exports",
    summary="Export a SAR in goAML or FinCEN XML, validated against the schema",
    status_code=201,
    responses=errors(404, 409, 503),
    openapi_extra=json_body(sc.ExportIn, "`{format: goaml | fincen}`."),
)
def export(
    sar_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.ExportIn = msgspec_body(sc.ExportIn),
) -> Response:
    """Needs ``sar:draft`` or ``sar:file``. The file is kept once it validates against the
    format's XSD; otherwise 422 lists the report's missing fields and the schema's errors
    (by element path). 503 when the configured schema file is missing."""
    return json_response(sc.export_out(service.export(db, who, sar_id, body.format)), 201)


@router.get("/sars/{sar_id}/exports", summary="A SAR's exports, newest first")
def list_exports(sar_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> Response:
    """Each kept export: format, when, by whom, the report version, SHA-256, size."""
    return json_response([sc.export_out(e) for e in service.exports(db, who, sar_id)])


@router.get(
    "/sars/{sar_id}/exports/{export_id}/file",
    summary="Download an exported SAR file",
    responses={**errors(404), "200": {"content": {"application/xml": {}}}},
)
def download(
    sar_id: RowIdPath, export_id: RowIdPath, db: DbSession, who: CurrentPrincipal
) -> Response:
    """The XML file as exported (its SHA-256 is the filing record's); audited."""
    found = service.export_file(db, who, sar_id, export_id)
    name = f"sar-{sar_id}-{found.format.value}-{found.id}.xml"
    return Response(
        found.content.encode(),
        media_type="application/xml",
        headers=download_headers(name, "sar.xml"),
    )


@router.post(
    "/sars/{sar_id}/file",
    summary="Mark a SAR filed",
    responses=errors(404, 409),
    openapi_extra=json_body(sc.FileIn, "`{export_id, fiu_reference}`: the export sent."),
)
def file(
    sar_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.FileIn = msgspec_body(sc.FileIn),
) -> Response:
    """Needs ``sar:file``; an approved report and a validated export of its current version
    (409 otherwise). Keeps the file's hash, who, when and the FIU's reference."""
    report = service.file(db, who, sar_id, body.export_id, fiu_reference=body.fiu_reference)
    return json_response(_out(db, report))


@router.put(
    "/sars/{sar_id}/legal-hold",
    summary="Set or lift a SAR's legal hold",
    responses=errors(404, 409),
    openapi_extra={
        **json_body(sc.LegalHoldIn, "`{hold: true | false, reason}`."),
        **rules(("$.reason", "required, not blank")),
    },
)
def legal_hold(
    sar_id: RowIdPath,
    db: DbSession,
    who: CurrentPrincipal,
    body: sc.LegalHoldIn = msgspec_body(sc.LegalHoldIn),
) -> Response:
    """Needs ``retention:manage``. A report under legal hold is never purged. Audited."""
    report = service.set_legal_hold(db, who, sar_id, hold=body.hold, reason=body.reason)
    return json_response(_out(db, report))


def include(app: FastAPI) -> None:
    """Mount the SAR routes on the app."""
    app.include_router(router)
