"""Shapes that cross the SAR package's boundary: the API's bodies and answers (msgspec)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from riskops.kernel.bounds import LongText, Name, ShortText
from riskops.sar.models import ExportFormat, SarExport, SarReport

Country = Annotated[str, Meta(pattern="^([A-Z]{2})?$", description="ISO 3166 alpha-2, or empty")]
Narrative = Annotated[str, Meta(max_length=20_000)]


class SubjectIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A person or an entity the report is about (from the account's KYC / KYB, edited)."""

    kind: Literal["person", "entity"] = "person"
    first_name: Name = ""
    last_name: Name = ""
    name: ShortText = ""  # an entity's legal name (or a person's full name, unsplit)
    gender: Literal["M", "F", ""] = ""
    birth_date: date | None = None
    nationality: Country = ""
    country: Country = ""  # residence, or incorporation
    id_type: Name = ""  # PASSP, DRIVL, EID... (goAML codes)
    id_number: Name = ""
    id_country: Country = ""
    id_issued: date | None = None
    id_expires: date | None = None
    tax_number: Name = ""
    phone: Name = ""
    email: Name = ""
    address: ShortText = ""
    city: Name = ""
    occupation: Name = ""
    account_id: Name = ""


class TransactionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An event of the case's timeline the report names (as the timeline shows it)."""

    event_id: Name
    at: datetime
    type: Name = ""
    direction: Literal["in", "out"] = "out"
    amount: Decimal = Decimal(0)
    asset: Name = ""
    usd_value: Decimal = Decimal(0)
    counterparty: ShortText = ""


class DraftIn(msgspec.Struct, forbid_unknown_fields=True):
    case_id: Annotated[int, Meta(ge=1)]


class EditIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields to change (absent ones stay). ``event_ids`` picks the transactions from the
    case's timeline; ``transactions`` gives them in full instead."""

    typology: Name | None = None
    narrative: Narrative | None = None
    activity_from: datetime | None = None
    activity_to: datetime | None = None
    subjects: list[SubjectIn] | None = None
    event_ids: list[Name] | None = None
    transactions: list[TransactionIn] | None = None


class ApproveIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``approve``, or ``return`` it to its drafter (the comment says why)."""

    decision: Literal["approve", "return"] = "approve"
    comment: LongText = ""


class WithdrawIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: LongText


class ExportIn(msgspec.Struct, forbid_unknown_fields=True):
    format: ExportFormat


class FileIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Mark filed with the export sent (its id) and the FIU's reference, when given."""

    export_id: Annotated[int, Meta(ge=1)]
    fiu_reference: Name = ""


class LegalHoldIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    hold: bool
    reason: LongText


class ExportOut(msgspec.Struct):
    id: int
    sar_id: int
    format: str
    created_at: datetime
    created_by: str
    report_version: int
    sha256: str
    bytes: int


def export_out(export: SarExport) -> ExportOut:
    return ExportOut(
        export.id,
        export.sar_id,
        str(export.format),
        export.created_at,
        export.created_by,
        export.report_version,
        export.sha256,
        len(export.content.encode()),
    )


class SarOut(msgspec.Struct):
    id: int
    case_id: int
    status: str
    typology: str
    activity_from: datetime | None
    activity_to: datetime | None
    narrative: str
    subjects: list[dict[str, Any]]
    transactions: list[dict[str, Any]]
    accounts: list[str]
    drafted_by: str
    drafted_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    withdrawn_reason: str | None
    filed_export_id: int | None
    filed_format: str | None
    filed_sha256: str | None
    filed_at: datetime | None
    filed_by: str | None
    fiu_reference: str | None
    retention_until: datetime
    legal_hold: bool
    legal_hold_reason: str | None
    version: int


def sar_out(report: SarReport, accounts: list[str]) -> SarOut:
    return SarOut(
        report.id,
        report.case_id,
        str(report.status),
        report.typology,
        report.activity_from,
        report.activity_to,
        report.narrative,
        [dict(s) for s in report.subjects],
        [dict(t) for t in report.transactions],
        accounts,
        report.drafted_by,
        report.drafted_at,
        report.updated_at,
        report.submitted_at,
        report.approved_by,
        report.approved_at,
        report.withdrawn_reason,
        report.filed_export_id,
        report.filed_format,
        report.filed_sha256,
        report.filed_at,
        report.filed_by,
        report.fiu_reference,
        report.retention_until,
        report.legal_hold,
        report.legal_hold_reason,
        report.version,
    )


class SarSummary(msgspec.Struct):
    id: int
    case_id: int
    status: str
    typology: str
    drafted_by: str
    drafted_at: datetime
    approved_by: str | None
    filed_at: datetime | None
    retention_until: datetime
    legal_hold: bool


def summary(report: SarReport) -> SarSummary:
    return SarSummary(
        report.id,
        report.case_id,
        str(report.status),
        report.typology,
        report.drafted_by,
        report.drafted_at,
        report.approved_by,
        report.filed_at,
        report.retention_until,
        report.legal_hold,
    )


class SarPage(msgspec.Struct):
    items: list[SarSummary]
    total: int
    limit: int
    offset: int


class PurgeOut(msgspec.Struct):
    purged: list[int]
    kept_on_hold: list[int]
    dry_run: bool
