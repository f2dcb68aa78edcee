"""Tables of intake: received email messages and their attachments.

A message is stored once, keyed by ``ref`` (its Message-ID, or ``sha256:<hex>`` of the raw
bytes when it has none), so a re-import or an SMTP retry changes nothing. The raw message
is kept byte for byte beside what was parsed from it: the parse can be redone, a copy of
evidence cannot be recovered.

Attachments are kept in the database, not as files under ``data_dir``: a message and its
attachments then commit in one transaction (the SMTP listener answers ``250`` only after
that commit, and a crash never leaves a row without its file or a file without its row),
and they are backed up, retained and deleted with the rest of the case evidence. The size
of a message is bounded (``RISKOPS_MAX_EMAIL_BYTES``), so the rows stay reasonable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime


class InboundEmail(Base):
    """One received message (imported from a file or delivered over SMTP)."""

    __tablename__ = "intake_emails"
    __table_args__ = (Index("ix_intake_emails_received", "received_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Idempotency key: the Message-ID (without <>), or "sha256:<hex of the raw bytes>".
    ref: Mapped[str] = mapped_column(String(256), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    from_address: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    from_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    to_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # Date header
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(16))  # import | smtp
    source_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    text_body: Mapped[str] = mapped_column(Text, default="")
    body_from: Mapped[str] = mapped_column(String(16))  # plain | html | none
    category: Mapped[str] = mapped_column(String(32))  # not_me, partner_bank, ...
    account_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{account_id, by: email|account_id|tx_hash|withdrawal_id, value, where}]
    link_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    case_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    defects: Mapped[list[str]] = mapped_column(JSON, default=list)  # parser complaints
    size: Mapped[int] = mapped_column(Integer)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class EmailAttachment(Base):
    """One attachment of a message, numbered from 1 in the order of the MIME tree."""

    __tablename__ = "intake_email_attachments"
    __table_args__ = (UniqueConstraint("email_id", "position", name="uq_intake_attachment_pos"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("intake_emails.id"))
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(String(512), nullable=True)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
