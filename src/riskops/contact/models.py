"""Tables of contact: the messages sent to account holders from cases, and their replies.

The message itself (body, delivery attempts, status) lives in the outbound outbox
(``outbound_messages``); ``contact_messages`` records what only contact knows: the case,
the template and language, who sent it and whether it was the information request.
``contact_replies`` keeps the replies that came by SMS (email replies are kept by intake
as received mail); ``provider_message_id`` is unique, so a replayed inbound request is
refused instead of attached twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime


class ContactMessage(Base):
    """One message sent to an account holder from a case."""

    __tablename__ = "contact_messages"
    __table_args__ = (Index("ix_contact_messages_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    account_id: Mapped[str] = mapped_column(String(128))
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms
    to_masked: Mapped[str] = mapped_column(String(320))  # never the full address in a list
    subject: Mapped[str | None] = mapped_column(String(512), nullable=True)
    outbound_id: Mapped[int] = mapped_column(BigId)
    outbound_message_id: Mapped[str] = mapped_column(String(256))
    sent_by: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ContactReply(Base):
    """A customer's reply that came by SMS (signed inbound webhook)."""

    __tablename__ = "contact_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    account_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(256), unique=True)
    from_masked: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
