"""Tables of the outbound outbox: the messages that leave riskops, their attempts, and the
webhook subscriptions of the exchange.

A message (``outbound_messages``) is written in the transaction of the change that causes
it and delivered later by ``riskops.outbound.tasks``. Its ``message_id`` (a UUID) goes with
every attempt, so a receiver that sees it twice (a crash between the send and the commit)
can drop the second copy. ``dedupe_key`` is unique: a caller that enqueues the same thing
twice gets the first message back. ADR 0032.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime, str_enum


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class Status(enum.StrEnum):
    QUEUED = "queued"  # written, never tried
    SENDING = "sending"  # claimed by a deliverer until lease_until
    SENT = "sent"  # the receiver accepted it
    RETRYING = "retrying"  # an attempt failed; tried again at next_attempt_at
    DEAD = "dead"  # given up (too many attempts, or refused for good); retry by hand


class OutboundMessage(Base):
    """One message that leaves riskops (an email, an SMS, a webhook delivery)."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_due", "status", "next_attempt_at"),
        Index("ix_outbound_messages_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "outbound_channel"))
    recipient: Mapped[str] = mapped_column(String(2048))  # address, phone number or URL
    reply_to: Mapped[str | None] = mapped_column(String(320), nullable=True)  # email only
    subject: Mapped[str | None] = mapped_column(String(512), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{filename, content_type, data (base64)}]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(64))  # rfi, decision_notice, digest, webhook...
    case_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Webhooks: the subscription (its secret signs each attempt) and the topic.
    subscription_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(256), unique=True, nullable=True)
    status: Mapped[Status] = mapped_column(str_enum(Status, "outbound_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OutboundAttempt(Base):
    """One try at delivering a message: when, whether the receiver took it, and why not."""

    __tablename__ = "outbound_attempts"
    __table_args__ = (Index("ix_outbound_attempts_message", "message_pk", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookSubscription(Base):
    """Where the exchange wants domain events: a URL, the topics, and the signing secret.

    The secret is kept as is (an HMAC needs it) and shown once, when the subscription is
    made. Deleting a subscription deactivates it, so its past deliveries keep their name.
    """

    __tablename__ = "outbound_webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    topics: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(256), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
