"""Tables of SAR / STR work: the report, the accounts it names, its exports.

A report is drafted from one case and moves draft -> awaiting_approval -> approved -> filed
(or withdrawn). Subjects and transactions are kept as JSON documents on the report: they
are the report's own copy (edited by the drafter, frozen once filed), not links to rows
that change later. The accounts it names are also rows of ``sar_accounts`` so that the
tipping-off guard asks "is this account under a SAR?" through an index. Every export that
validated is kept; a filing names the export it sent (ADR 0034).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime, str_enum


class SarStatus(enum.StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    FILED = "filed"
    WITHDRAWN = "withdrawn"


class ExportFormat(enum.StrEnum):
    GOAML = "goaml"
    FINCEN = "fincen"


class SarReport(Base):
    """One suspicious activity report, from its draft to its filing and retention."""

    __tablename__ = "sar_reports"
    __table_args__ = (
        Index("ix_sar_reports_status", "status", "id"),
        Index("ix_sar_reports_retention", "retention_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[SarStatus] = mapped_column(str_enum(SarStatus, "sar_status"))
    typology: Mapped[str] = mapped_column(String(64), default="")  # the characterisation
    activity_from: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    activity_to: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    narrative: Mapped[str] = mapped_column(Text, default="")
    # [{kind: person|entity, name, first_name, last_name, birth_date, nationality, country,
    #   id_number, address, city, email, phone, account_id}]
    subjects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{event_id, at, type, amount, asset, usd_value, direction, counterparty}]
    transactions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    drafted_by: Mapped[str] = mapped_column(String(128))
    drafted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The filing record: the export sent, its format and hash, when, by whom, the FIU's id.
    filed_export_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    filed_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    filed_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    filed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fiu_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Retention: kept until then, purged after unless under legal hold.
    retention_until: Mapped[datetime] = mapped_column(UtcDateTime)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SarAccount(Base):
    """An account a report names (the tipping-off guard's index)."""

    __tablename__ = "sar_accounts"
    __table_args__ = (Index("ix_sar_accounts_account", "account_id", "sar_id"),)

    sar_id: Mapped[int] = mapped_column(ForeignKey("sar_reports.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class SarExport(Base):
    """One export of a report in a regulator format that validated against its schema (an
    export that does not validate is refused, never kept)."""

    __tablename__ = "sar_exports"
    __table_args__ = (Index("ix_sar_exports_sar", "sar_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sar_id: Mapped[int] = mapped_column(ForeignKey("sar_reports.id"))
    format: Mapped[ExportFormat] = mapped_column(str_enum(ExportFormat, "sar_export_format"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    report_version: Mapped[int] = mapped_column(Integer)  # the report's version it shows
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
